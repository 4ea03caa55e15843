"""The dashboard's charts, drawn with matplotlib in the colours, names and month labels of the CLI's
plots (:mod:`alliance_sim.plots`), from a :class:`~alliance_sim.dashboard.session.Session`'s history.

The x axis always spans the whole horizon (calendar months), so a chart fills in as the months are
stepped instead of rescaling; the scenario's dated events are numbered dashed lines, as in the CLI.
"""

from __future__ import annotations

import io

import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch

from alliance_sim.plots import (
    BEIJING_FILL,
    BEIJING_TEXT,
    actor_name,
    ally_color,
    escape_mathtext,
    month_axis,
    month_tick_label,
    percent_formatter,
)

COHESION_COLOR = "#5a4e8c"  # plots.plot_cohesion's
POSITIVE_TIE = "#2166ac"  # the blue and red ends of plots.plot_ties' RdBu map
NEGATIVE_TIE = "#b2182b"
NODE_RADIUS = 0.19  # data units of the network chart


def _month_axis(ax, labels: list[str]) -> None:
    month_axis(ax, labels, max_ticks=5)


def _events(ax, session, numbers: bool) -> None:
    for n, k in enumerate(_event_months(session), start=1):
        ax.axvline(k, color="#555555", lw=0.9, ls="--", alpha=0.7, zorder=1, gid="event")
        if numbers:
            ax.text(k, 0.975, str(n), transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7,
                    color="white", fontweight="bold", zorder=6,
                    bbox={"boxstyle": "circle,pad=0.2", "fc": "#555555", "ec": "none"})


def _event_months(session) -> list[int]:
    return sorted({k for k, _ in session.events()})


def event_key(session) -> list[tuple[int, str, str]]:
    """(number, 'Aug 2025', labels) of each event month, as numbered on the charts."""
    by_month: dict[int, list[str]] = {}
    for k, label in session.events():
        by_month.setdefault(k, [])
        if label not in by_month[k]:
            by_month[k].append(label)
    return [(n, month_tick_label(session.labels[k]), " / ".join(by_month[k]))
            for n, k in enumerate(sorted(by_month), start=1)]


def _band(x, lo, hi) -> np.ndarray:
    """The polygon of a band between two curves (what fill_between draws)."""
    return np.r_[np.c_[x, lo], np.c_[x[::-1], hi[::-1]]]


class BlitChart:
    """A figure whose axes, ticks, labels and event lines are drawn once; each update redraws only
    the data artists over that background and encodes the pixels as PNG.

    Drawing a whole figure with its text costs about a second here, the data alone a few tens of
    milliseconds, which is what keeps a step of the dashboard responsive."""

    def __init__(self, fig: Figure):
        self.fig = fig
        self.canvas = FigureCanvasAgg(fig)
        self.dynamic: list = []
        self.background = None

    def _background(self) -> None:
        visible = [a.get_visible() for a in self.dynamic]
        for a in self.dynamic:
            a.set_visible(False)
        self.canvas.draw()
        self.fig.set_layout_engine("none")  # freeze the layout found by the first draw
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        for a, shown in zip(self.dynamic, visible, strict=True):
            a.set_visible(shown)

    def _add(self, artist):
        artist.set_animated(True)
        self.dynamic.append(artist)
        return artist

    def png(self, stale_background: bool = False) -> bytes:
        if self.background is None or stale_background:
            self._background()
        self.canvas.restore_region(self.background)
        for a in self.dynamic:
            self.fig.draw_artist(a)
        image = PIL.Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba(), "raw",
                                     "RGBA", 0, 1)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", compress_level=1)
        return out.getvalue()


class Overview(BlitChart):
    """Alignment fan chart per ally (median, 50 % and 90 % bands), P(crossed) and cohesion so far."""

    def __init__(self, session):
        self.session = session
        allies = list(session.model.compiled.allies)
        labels = session.labels
        fig = Figure(figsize=(11, 6.4), dpi=80, layout="constrained")
        super().__init__(fig)
        grid = fig.add_gridspec(2, len(allies))
        self.fans = [fig.add_subplot(grid[0, i]) for i in range(len(allies))]
        half = max(1, len(allies) // 2)
        self.crossing, self.cohesion = fig.add_subplot(grid[1, :half]), fig.add_subplot(grid[1, half:])
        for i, (ax, ally) in enumerate(zip(self.fans, allies, strict=True)):
            color = ally_color(ally, i)
            ax.axhspan(-1, 0, color=BEIJING_FILL, zorder=0, lw=0)
            ax.axhline(0, color=BEIJING_TEXT, lw=1.0, zorder=1)
            ax.text(0.01, -0.03, "Beijing's side", transform=ax.get_yaxis_transform(), va="top", fontsize=9,
                    color=BEIJING_TEXT, style="italic")
            ax.set_ylim(-1, 1)
            ax.set_title(f"{actor_name(ally)}: alignment", loc="left", fontweight="bold", fontsize=11)
            if i == 0:
                ax.set_ylabel("−1 Beijing … +1 Washington")
                ax.legend([Patch(color=color, alpha=0.15), Patch(color=color, alpha=0.45),
                           Line2D([], [], color=color, lw=2.2)], ["90% band", "50% band", "median"],
                          loc="lower right", fontsize=8, frameon=False, ncols=3)
        self.crossing.yaxis.set_major_formatter(percent_formatter())
        self.crossing.set_title("P(has crossed to Beijing's side)", loc="left", fontweight="bold", fontsize=11)
        self.crossing.legend([Line2D([], [], color=ally_color(a, i), lw=2.2) for i, a in enumerate(allies)],
                             [actor_name(a) for a in allies], loc="upper left", bbox_to_anchor=(0.0, 0.9),
                             fontsize=8, frameon=False)
        self.cohesion.axhline(0, color="#888888", lw=0.8)
        self.cohesion.set_title("Trilateral cohesion (mean allied tie)", loc="left", fontweight="bold",
                                fontsize=11)
        for ax in (*self.fans, self.crossing, self.cohesion):
            _events(ax, session, numbers=True)
            _month_axis(ax, labels)
            ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        fig.suptitle(escape_mathtext(f"{session.scenario.name} — {session.model.state.replicates:,} replicates, "
                                     f"seed {session.params.simulation.seed}"), fontsize=12, fontweight="bold")
        self.limits = (None, None)
        # the data artists, made once and given new data at each update (cheaper than new artists)
        self.ally_artists = []
        for i, (ax, ally) in enumerate(zip(self.fans, allies, strict=True)):
            color = ally_color(ally, i)
            self.ally_artists.append((
                self._add(ax.fill_between([0], [0], [0], color=color, alpha=0.15, lw=0)),
                self._add(ax.fill_between([0], [0], [0], color=color, alpha=0.35, lw=0)),
                self._add(ax.plot([], [], color=color, lw=2.2, gid=f"median_{ally}")[0]),
                self._add(self.crossing.plot([], [], color=color, lw=2.2)[0]),
                self._add(self.crossing.annotate("", (0, 0), xytext=(4, 0), textcoords="offset points", va="center",
                                                 fontsize=9, color=color, fontweight="bold", annotation_clip=False)),
            ))
        self.cohesion_artists = (
            self._add(self.cohesion.fill_between([0], [0], [0], color=COHESION_COLOR, alpha=0.15, lw=0)),
            self._add(self.cohesion.fill_between([0], [0], [0], color=COHESION_COLOR, alpha=0.35, lw=0)),
            self._add(self.cohesion.plot([], [], color=COHESION_COLOR, lw=2.2, gid="cohesion_median")[0]),
        )

    def png(self) -> bytes:
        session = self.session
        hist = session.history
        allies = list(session.model.compiled.allies)
        x = np.arange(len(hist))
        q = np.stack([h.alignment_q for h in hist])  # (t, 5, A)
        crossed = np.stack([h.crossed for h in hist])  # (t, A)
        cq = np.stack([h.cohesion_q for h in hist])  # (t, 5)
        # y ranges move in coarse steps, so the background is redrawn only when one is outgrown
        p_top = next(v for v in (0.1, 0.25, 0.5, 1.0) if float(crossed.max()) * 1.1 + 0.01 <= v or v == 1.0)
        c_low = next(v for v in (-0.25, -0.5, -1.0) if float(cq.min()) - 0.03 >= v or v == -1.0)
        stale = (p_top, c_low) != self.limits
        if stale:
            self.limits = (p_top, c_low)
            self.crossing.set_ylim(0, p_top)
            self.cohesion.set_ylim(c_low, 1)
        for i in range(len(allies)):
            outer, inner, median, p_line, p_label = self.ally_artists[i]
            outer.set_verts([_band(x, q[:, 0, i], q[:, 4, i])])
            inner.set_verts([_band(x, q[:, 1, i], q[:, 3, i])])
            median.set_data(x, q[:, 2, i])
            median.set_marker("o" if len(x) == 1 else "None")  # the first month is a point, not a line
            p_line.set_data(x, crossed[:, i])
            p_label.set_text(f"{crossed[-1, i]:.0%}")
            p_label.xy = (x[-1], crossed[-1, i])
        outer, inner, median = self.cohesion_artists
        outer.set_verts([_band(x, cq[:, 0], cq[:, 4])])
        inner.set_verts([_band(x, cq[:, 1], cq[:, 3])])
        median.set_data(x, cq[:, 2])
        median.set_marker("o" if len(x) == 1 else "None")
        return super().png(stale_background=stale)


class Network(BlitChart):
    """The signed ties at the current month: median over replicates; blue positive, red dashed
    negative, width by strength."""

    def __init__(self, session):
        self.session = session
        c = session.model.compiled
        self.actors = list(c.actors)
        n = len(self.actors)
        angles = np.pi / 2 - 2 * np.pi * np.arange(n) / n
        self.pos = np.c_[np.cos(angles), np.sin(angles)]
        fig = Figure(figsize=(4.6, 4.4), dpi=80, layout="constrained")
        super().__init__(fig)
        self.ax = ax = fig.subplots()
        ax.set_xlim(-1.35, 1.35)
        ax.set_ylim(-1.3, 1.3)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.legend([Line2D([], [], color=POSITIVE_TIE, lw=3),
                   Line2D([], [], color=NEGATIVE_TIE, lw=3, ls=(0, (3, 1.5)))], ["positive tie", "negative tie"],
                  loc="lower center", ncols=2, fontsize=8, frameon=False,
                  bbox_to_anchor=(0.5, -0.06))
        ax.set_title(" ", fontsize=11, fontweight="bold")  # room for the month's title
        n = len(self.actors)
        # labels at the middle of each edge, except with an even number of actors, where diagonals
        # cross at their middles: there a bit off the middle
        frac = 0.5 if n % 2 else 0.38
        pos = self.pos
        self.edges = {}
        for i in range(n):
            for j in range(i + 1, n):
                d = (pos[j] - pos[i]) / np.linalg.norm(pos[j] - pos[i])
                ends = np.array([pos[i] + NODE_RADIUS * d, pos[j] - NODE_RADIUS * d])  # stop at the nodes
                edge = self._add(ax.plot(*ends.T, alpha=0.75, solid_capstyle="butt", zorder=1,
                                         gid=f"tie_{self.actors[i]}-{self.actors[j]}")[0])
                at = (1 - frac) * pos[i] + frac * pos[j]
                label = self._add(ax.text(*at, "", fontsize=8.5, ha="center", va="center", zorder=3,
                                          color="#222222", fontweight="bold"))
                self.edges[i, j] = (edge, label)
        self.month_title = self._add(ax.text(0.5, 1.0, "", transform=ax.transAxes, ha="center", va="bottom",
                                             fontsize=11, fontweight="bold"))
        for k, code in enumerate(self.actors):  # nodes are static; edges stop at their rim
            color = ally_color(code, 0) if code in c.allies else "#444444"
            ax.add_patch(Circle(self.pos[k], NODE_RADIUS, facecolor="white", edgecolor=color, linewidth=2.5,
                                zorder=4))
            ax.text(*self.pos[k], code, ha="center", va="center", fontsize=9, fontweight="bold", color=color,
                    zorder=5)

    def png(self) -> bytes:
        session = self.session
        ties = session.history[-1].ties_median
        for (i, j), (edge, label) in self.edges.items():
            w = float(ties[i, j])
            shown = bool(np.isfinite(w) and abs(w) >= 0.02)
            edge.set_visible(shown)
            label.set_visible(shown)
            if shown:
                edge.set_color(POSITIVE_TIE if w > 0 else NEGATIVE_TIE)
                edge.set_linewidth(0.5 + 7 * abs(w))
                edge.set_linestyle("-" if w > 0 else (0, (3, 1.5)))
                label.set_text(f"{w:+.2f}")
        self.month_title.set_text(f"Ties, {month_tick_label(session.month_label())} (median)")
        return super().png()
