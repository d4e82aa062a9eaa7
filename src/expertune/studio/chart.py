"""A loss curve as SVG polyline coordinates (server-rendered; studio.js redraws it from live events
with the same scaling)."""

from __future__ import annotations

W, H, PAD = 640, 220, 30


def loss_chart(points: list, eval_points: list, max_steps: int | None) -> dict:
    every = list(points) + list(eval_points)
    if not every:
        return {"train": "", "eval": "", "ymin": None, "ymax": None, "xmax": max_steps or 0, "w": W, "h": H}
    xmax = max([max_steps or 0] + [s for s, _ in every]) or 1
    ymin, ymax = min(v for _, v in every), max(v for _, v in every)
    span = (ymax - ymin) or 1.0

    def coords(series):
        return " ".join(f"{PAD + (W - 2 * PAD) * s / xmax:.1f},{H - PAD - (H - 2 * PAD) * (v - ymin) / span:.1f}"
                        for s, v in series)

    return {"train": coords(points), "eval": coords(eval_points), "ymin": round(ymin, 3), "ymax": round(ymax, 3),
            "xmax": xmax, "w": W, "h": H}
