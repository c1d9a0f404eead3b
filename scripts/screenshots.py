"""Screenshots of the workstation's main screens, taken from the real application under Xvfb.

    .venv/bin/python scripts/screenshots.py [--trial sample_dicom] [--subjects 2] [--out docs/screenshots]

Runs itself under ``xvfb-run`` when no X display is available. Reads the sample trial's ground truth to know where
the lesions are, then drives the app as a reader would (click on each target, accept, go to each follow-up and measure
at the proposed position) and saves PNGs of the main screens. If the trial folder holds no trial yet, a small one is
generated into a temporary folder first (`imaging.synthetic`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rerun_under_xvfb() -> int:
    if shutil.which("xvfb-run") is None:
        print("screenshots: no X display and no xvfb-run (Debian package xvfb)", file=sys.stderr)
        return 2
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1920x1200x24", sys.executable, *sys.argv]
    env = dict(os.environ, SCREENSHOTS_UNDER_XVFB="1", QT_QPA_PLATFORM="xcb")
    return subprocess.call(cmd, env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trial", type=Path, default=ROOT / "sample_dicom")
    ap.add_argument("--subjects", type=int, default=2, help="how many subjects to read (the waterfall needs several)")
    ap.add_argument("--engine", default="auto", help="segmentation engine: auto, monai or classical")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("SCREENSHOTS_UNDER_XVFB"):
        return _rerun_under_xvfb()

    from PyQt6.QtWidgets import QApplication

    from segmentation.engines import create_segmenter
    from workstation.read_model import LesionStatus, Role
    from workstation.session.compare_with import CompareWith
    from workstation.session.persistence import JsonReadStore
    from workstation.session.response import summarize
    from workstation.session.suggestions import MeasuringService
    from workstation.ui.main_window import MainWindow
    from workstation.ui.viewer import Plane, Tool

    app = QApplication.instance() or QApplication(sys.argv[:1])
    work = Path(tempfile.mkdtemp(prefix="recist-shots-"))
    trial = args.trial
    if not (trial / "trial.json").is_file():
        from imaging.synthetic import generate_trial

        print(f"{trial} holds no trial.json: generating a small trial into {work / 'trial'}")
        trial = work / "trial"
        generate_trial(trial, small=True, subjects=("SUBJ-001", "SUBJ-002", "SUBJ-003", "SUBJ-004")[: args.subjects])
    args.out.mkdir(parents=True, exist_ok=True)

    w = MainWindow(
        reader="demo-reader",
        store=JsonReadStore(work / "reads"),
        measuring=MeasuringService(create_segmenter(args.engine)),
        data_dir=work,
    )
    w.auto_answer = True
    w.resize(1720, 1040)
    w.show()

    def pump(until: object, timeout: float = 120.0) -> None:
        start = time.perf_counter()
        while not until():  # type: ignore[operator]
            app.processEvents()
            time.sleep(0.01)
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"gave up waiting after {timeout} s")
        for _ in range(20):
            app.processEvents()

    def shot(name: str) -> None:
        for _ in range(10):
            app.processEvents()
        screen = w.screen()
        assert screen is not None
        pixmap = screen.grabWindow(0, w.x(), w.y(), w.frameGeometry().width(), w.frameGeometry().height())
        if pixmap.isNull() or pixmap.width() < 100:
            pixmap = w.grab()
        pixmap.save(str(args.out / name))
        print("saved", args.out / name)

    def click(point: tuple[float, float, float], node: bool) -> None:
        w.node_check.setChecked(node)
        v = w.current_viewer
        k = v.patient_to_view(point)[2]
        v.set_slice(k)
        v.cursor_voxel[1:] = [round(c) for c in v.volume.patient_to_voxel(point)[1:]]  # type: ignore[union-attr]
        w.suggest_at(point, k)
        pump(lambda: w.pending is not None or not w.jobs.busy)

    assert w.open_folder(trial)
    index = json.loads((trial / "trial.json").read_text())
    for s_idx, subject in enumerate(index["subjects"][: args.subjects]):
        truth = json.loads((trial / subject["ground_truth"]).read_text())
        w.open_timepoint(s_idx, 0)
        pump(lambda: w.volume(0) is not None)
        lesions = truth["lesions"]
        for n, les in enumerate(lesions):
            first = les["timepoints"][0]
            if not first["present"]:
                continue
            if les["role"] == "target":
                click(tuple(first["centre_lps_mm"]), les["node"])
                if w.pending is None:
                    continue
                if s_idx == 0 and n == 0:
                    shot("new-lesion-organ.png")  # a new lesion waits for the reader to choose its organ
                w.organ_choice.setCurrentText(les["organ"])
                w.node_check.setChecked(les["node"])
                if s_idx == 0 and n == 0:
                    shot("baseline-suggestion.png")
                w.accept_pending()
            elif les["role"] == "non-target":
                w.organ_choice.setCurrentText(les["organ"])
                w.node_check.setChecked(les["node"])
                w.declare_lesion(Role.NON_TARGET)
        if s_idx == 0:
            w.session.select_lesion(None)  # type: ignore[union-attr]
            shot("baseline-read.png")
        new_ids: dict[str, str | None] = {}
        for tp in range(1, len(subject["timepoints"])):
            w.go_to_timepoint(tp)
            pump(lambda t=tp: w.proposals_final_for == t)
            for prop in w.proposals:  # how far each proposal is from the truth (what the reader would have to fix)
                les_truth = next(x for x in lesions if x["id"] == prop.lesion_id)
                true_centre = les_truth["timepoints"][tp]["centre_lps_mm"]
                if true_centre is not None:
                    off = sum((a - b) ** 2 for a, b in zip(prop.point_mm, true_centre, strict=True)) ** 0.5
                    print(
                        f"{subject['subject_id']} {subject['timepoints'][tp]['label']} {prop.lesion_id}: proposal "
                        f"{off:.1f} mm from the true centre ({prop.method})"
                    )
            if s_idx == 0 and tp == 1:
                shot("follow-up-proposals.png")
            for les in lesions:
                truth_tp = les["timepoints"][tp]
                if les["role"] == "new" and truth_tp["present"]:
                    # the reader finds the new lesion on the images: a click on it, measured as a new lesion
                    known = new_ids.get(les["id"])
                    w.session.select_lesion(known)  # type: ignore[union-attr]
                    click(tuple(truth_tp["centre_lps_mm"]), les["node"])
                    if w.pending is not None:
                        w.decision_bar.choose(known if known is not None else Role.NEW)
                        w.organ_choice.setCurrentText(les["organ"])
                        w.accept_pending()
                        new_ids[les["id"]] = w.session.selected_lesion  # type: ignore[union-attr]
                    continue
                if les["id"] not in w.session.read.lesions:  # type: ignore[union-attr]
                    continue
                w.session.select_lesion(les["id"])  # type: ignore[union-attr]
                if les["role"] == "target" and not les["timepoints"][tp]["present"]:
                    w.session.set_status(les["id"], LesionStatus.DISAPPEARED)  # type: ignore[union-attr]
                elif les["role"] == "target":
                    w.suggest_at_proposal()
                    pump(lambda: w.pending is not None or not w.jobs.busy)
                    if s_idx == 0 and tp == 1 and les["id"] == "T1":
                        shot("follow-up-suggestion.png")
                    if w.pending is not None:
                        w.accept_pending()
                elif les["role"] == "non-target":
                    present = les["timepoints"][tp]["present"]
                    w.session.set_status(les["id"], LesionStatus.PRESENT if present else LesionStatus.ABSENT)  # type: ignore[union-attr]
            if s_idx == 0 and tp == 1:
                # the reader clicks T1 again: the bar re-measures T1 (never "new lesion" on top of it)
                t1 = w.session.assessment("T1")  # type: ignore[union-attr]
                if t1 is not None and t1.measurements and t1.measurements[0].long_axis_endpoints:
                    a, b = t1.measurements[0].long_axis_endpoints
                    click(tuple((p + q) / 2 for p, q in zip(a, b, strict=True)), False)  # type: ignore[arg-type]
                    if w.pending is not None:
                        shot("re-measure.png")
                        w.reject_pending()
                        w.set_tool(Tool.MEASURE)  # a reject chooses the ruler; the reader goes on clicking
        if s_idx == 0:
            shot("follow-up-read.png")
        if s_idx == 0 and w.session.current_timepoint >= 2:  # type: ignore[union-attr]
            # the last follow-up beside the nadir (progression is measured against it), T1 selected
            w.set_compare(CompareWith.NADIR)
            pump(lambda: w.compare_viewer.volume is w.volume(w.compare_tp)
                 and (w.compare_tp == 0 or w.compare_tp in w.mappings or not w.jobs.busy))
            w.session.select_lesion("T1")  # type: ignore[union-attr]
            shot("follow-up-nadir.png")
            w.set_compare(CompareWith.BASELINE)
        # what this read gives against the ground truth (the script accepts every suggestion unchecked)
        expected = json.loads((trial / subject["expected"]["RECIST 1.1"]).read_text())
        got = [tp.get("overall_response") for tp in summarize(w.session.read).recist.timepoints]  # type: ignore[union-attr]
        want = [tp.get("overall_response") for tp in expected["timepoints"]]
        print(f"{subject['subject_id']}: RECIST 1.1 responses {got}, expected {want}")
        for les in lesions:
            for tp_i, tp_read in enumerate(w.session.read.timepoints):  # type: ignore[union-attr]
                a = tp_read.assessments.get(les["id"])
                true_tp = les["timepoints"][tp_i]
                if a is not None and a.measurements and true_tp.get("long_axis_mm") is not None:
                    m = a.measurements[0]
                    print(
                        f"  {les['id']} {tp_read.label}: long axis {m.long_axis_mm:.1f} mm "
                        f"(true {true_tp['long_axis_mm']:.1f}), engine {m.engine}"
                    )
    w.response_panel.setCurrentIndex(1)
    shot("spider-plot.png")
    w.response_panel.setCurrentIndex(2)
    shot("waterfall.png")
    w.response_panel.setCurrentIndex(0)
    w.set_plane(Plane.CORONAL)
    w.apply_preset("Lung")
    shot("coronal-lung-window.png")
    w.set_plane(Plane.AXIAL)
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
