"""Viewer speed, driving the real widgets offscreen (QT_QPA_PLATFORM=offscreen), each figure against a named baseline
measured in the same run:

* slice change with overlays (outline, axes, labels, proposals) on a 512 x 512 series: median and max time from the
  key press to the repainted view (need median <= 16 ms, max <= 50 ms); baseline: a bare pyqtgraph ImageItem showing
  the same slices (the library's own floor), ratio ours / bare.
* opening a 300-slice 512 x 512 DICOM series: time until the first slice is painted (need <= 1 s); baseline: loading
  the whole series with `imaging.load_series`, ratio first-slice / whole load.
* the same at a follow-up, where the baseline viewer follows every slice change (two viewers drawn per frame);
  ratio to one viewer.
* a click on a lesion: time until the busy indicator is painted (need <= 100 ms); baseline: the engine's own time for
  that suggestion, ratio feedback / engine.

Run from the repository root: ``nice .venv/bin/python benchmarks/bench_viewer.py`` (``--slices 60`` for a quick look).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from tests.gui.phantom import PhantomLesion, ThresholdSegmenter, phantom_volume
from workstation.session.persistence import JsonReadStore
from workstation.session.suggestions import MeasuringService
from workstation.session.worklist import DicomFolderSource, InMemorySource, SubjectEntry, TimepointEntry
from workstation.ui.main_window import MainWindow
from workstation.ui.viewer import OverlayLine


def lesion_for(slices: int) -> PhantomLesion:
    """A lesion in the middle of the series (slices 1 mm apart from z = 0)."""
    return PhantomLesion((40.0, 20.0, slices / 2.0), (20.0, 12.0, 10.0))


def pump(app: QApplication, until: object, timeout_s: float = 60.0) -> float:
    start = time.perf_counter()
    while not until():  # type: ignore[operator]
        app.processEvents()
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError("gave up waiting")
    return time.perf_counter() - start


def bench_scroll(app: QApplication, window: MainWindow, frames: int) -> tuple[list[float], list[float]]:
    v = window.current_viewer
    vol = v.volume
    assert vol is not None
    n = vol.shape[0]
    # overlays on every slice: a recorded measurement, a pending outline with editable axes, proposals
    lines = [
        OverlayLine(f"T{t}", ((x, 0.0, z), (x + 30.0, 5.0, z)), ((x + 10.0, -8.0, z), (x + 12.0, 12.0, z)))
        for t, x in enumerate((-80.0, -30.0, 20.0))
        for z in [vol.slice_position_mm(k) for k in range(n)]
    ]
    v.set_overlays(lines)
    v.set_proposals([("T9", (60.0, 60.0, vol.slice_position_mm(k))) for k in range(0, n, 3)])
    mask = np.zeros(vol.shape[1:], dtype=bool)
    mask[200:260, 250:330] = True
    km = n // 2  # a pending suggestion with its outline and editable axes on the middle slice, which we scroll across
    zm = vol.slice_position_mm(km)
    v.set_pending(((40.0, 20.0, zm), (70.0, 20.0, zm)), ((55.0, 10.0, zm), (55.0, 30.0, zm)), mask, km)
    v.set_slice(km)
    app.processEvents()
    ours: list[float] = []
    viewport = v.view.viewport()
    assert viewport is not None
    for f in range(frames):
        start = time.perf_counter()
        QTest.keyClick(v, Qt.Key.Key_Down if (f // 10) % 2 == 0 else Qt.Key.Key_Up)  # 10 down, 10 up, ...
        viewport.repaint()
        if window.compare_viewer.isVisible():  # at a follow-up the baseline viewer moved too
            window.compare_viewer.view.viewport().repaint()  # type: ignore[union-attr]
        ours.append(time.perf_counter() - start)
    # baseline: a bare pyqtgraph image of the same size, no overlays, no text
    bare_view = pg.GraphicsView()
    bare_vb = pg.ViewBox(lockAspect=True)
    bare_view.setCentralItem(bare_vb)
    img = pg.ImageItem()
    bare_vb.addItem(img)
    bare_view.resize(v.view.size())
    bare_view.show()
    app.processEvents()
    bare: list[float] = []
    for f in range(frames):
        k = (n // 2 + (f % 40) - 20) % n
        start = time.perf_counter()
        img.setImage(vol.array[k], autoLevels=False, levels=(-160, 240))
        bare_view.viewport().repaint()  # type: ignore[union-attr]
        bare.append(time.perf_counter() - start)
    bare_view.close()
    return ours, bare


def bench_click(app: QApplication, window: MainWindow, lesion: PhantomLesion) -> tuple[float, float]:
    v = window.current_viewer
    x, y, k = v.patient_to_view(lesion.centre_mm)
    v.set_slice(k)
    app.processEvents()
    pos = v.view.mapFromScene(v.vb.mapViewToScene(QPointF(x, y)))
    viewport = window.progress
    start = time.perf_counter()
    QTest.mouseClick(v.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    assert window.progress.isVisible(), "no busy indicator after the click"
    viewport.repaint()
    feedback = time.perf_counter() - start
    pump(app, lambda: window.pending is not None)
    engine = time.perf_counter() - start
    window.reject_pending()
    return feedback, engine


def bench_open(app: QApplication, folder: Path, tmp: Path) -> tuple[float, float]:
    from imaging.loader import load_series

    start = time.perf_counter()
    load_series(folder)
    whole = time.perf_counter() - start
    window = MainWindow(store=JsonReadStore(tmp / "reads2"), data_dir=tmp)
    window.auto_answer = True
    window.show()
    app.processEvents()
    subject = SubjectEntry(
        "B2", [TimepointEntry("baseline", date(2026, 1, 5), DicomFolderSource(folder, None, "bench"))]
    )
    start = time.perf_counter()
    window.open_subjects([subject])
    pump(app, lambda: window.current_viewer.volume is not None)
    window.current_viewer.view.viewport().repaint()  # type: ignore[union-attr]
    first = time.perf_counter() - start
    pump(app, lambda: window.volume(0) is not None)
    window.jobs.wait()
    window.close()
    return first, whole


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        lesion = lesion_for(args.slices)
        vol = phantom_volume([lesion], shape=(args.slices, 512, 512), spacing=(1.0, 0.7, 0.7))
        window = MainWindow(
            store=JsonReadStore(tmp / "reads"), measuring=MeasuringService(ThresholdSegmenter()), data_dir=tmp
        )
        window.auto_answer = True
        window.resize(1600, 1000)
        window.show()
        timepoints = [
            TimepointEntry("baseline", date(2026, 1, 5), InMemorySource(vol)),
            TimepointEntry("week 6", date(2026, 2, 16), InMemorySource(vol)),
        ]
        window.open_subjects([SubjectEntry("B1", timepoints)])
        pump(app, lambda: window.volume(0) is not None)
        ours, bare = bench_scroll(app, window, args.frames)
        med, worst, bare_med = statistics.median(ours) * 1e3, max(ours) * 1e3, statistics.median(bare) * 1e3
        print(
            f"slice change with overlays, 512x512: median {med:.1f} ms (need <= 16), max {worst:.1f} ms "
            f"(need <= 50); bare pyqtgraph ImageItem median {bare_med:.1f} ms; ratio ours/bare {med / bare_med:.2f}"
        )
        feedback, engine = bench_click(app, window, lesion)
        print(
            f"click feedback: busy indicator painted after {feedback * 1e3:.1f} ms (need <= 100); the suggestion "
            f"itself took {engine * 1e3:.0f} ms (test engine); ratio feedback/suggestion {feedback / engine:.3f}"
        )
        # a follow-up: the baseline viewer follows every slice change of the current one (two viewers per frame)
        window.go_to_timepoint(1)
        pump(app, lambda: window.proposals_final_for == 1)
        both, _ = bench_scroll(app, window, args.frames)
        med2, worst2 = statistics.median(both) * 1e3, max(both) * 1e3
        print(
            f"follow-up, both viewers in step: median {med2:.1f} ms, max {worst2:.1f} ms per slice change; "
            f"ratio to one viewer {med2 / med:.2f}"
        )
        window.close()

        from tests.dicom.ct_writer import write_ct_series

        folder = tmp / "series"
        write_ct_series(folder, n=args.slices, rows=512, columns=512, pixel_spacing=(0.7, 0.7), slice_spacing=1.0)
        first, whole = bench_open(app, folder, tmp)
        print(
            f"open a {args.slices}-slice 512x512 series: first slice painted after {first:.2f} s (need <= 1); "
            f"whole series with imaging.load_series {whole:.2f} s; ratio first/whole {first / whole:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
