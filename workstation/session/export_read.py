"""Export the read being made, from the workstation: every format the export module writes (CSV/JSON tables, the
lossless read file, SDTM TU/TR/RS, DICOM SR TID 1500 per timepoint and DICOM SEG of the lesion masks).

Slow (SR/SEG read every source header): the GUI runs it in a worker with progress and cancel.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from imaging.cancel import CancelToken, ProgressCallback, report
from workstation.mask_store import MaskStore
from workstation.read_model import Read


def export_read(
    read: Read,
    out_dir: Path,
    image_folders: Sequence[Path],
    mask_store: MaskStore | None,
    study_id: str = "RECIST-TRIAL",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Write every format ``read`` allows under ``out_dir``; returns the files. SR and SEG need the source images."""
    from workstation.export.dicom_seg import export_seg, load_headers
    from workstation.export.dicom_sr import export_sr
    from workstation.export.read_json import write_read
    from workstation.export.sdtm import build_sdtm, evaluate_reads, write_sdtm
    from workstation.export.tables import write_tables

    read = copy.deepcopy(read)  # the reader may go on editing while this runs
    steps = 5
    report(progress, 0, steps, "responses")
    results = evaluate_reads([read])
    written = write_tables([read], results, out_dir / "tables")
    report(progress, 1, steps, "SDTM")
    written += write_sdtm(build_sdtm([read], results, study_id), out_dir / "sdtm", study_id)
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in f"{read.subject_id}_{read.read_id}")
    written.append(write_read(read, out_dir / "reads" / f"{safe}.json"))
    if cancel is not None:
        cancel.raise_if_cancelled()
    if not image_folders:
        return written
    report(progress, 2, steps, "reading the source image headers")
    files = [p for folder in image_folders for p in sorted(folder.rglob("*")) if p.is_file()]
    headers = load_headers(files)
    report(progress, 3, steps, "DICOM SR")
    written += [w.path for w in export_sr(read, out_dir / "sr", headers, cancel=cancel, protocol_id=study_id)]
    if mask_store is not None and any(
        m.mask_ref for tp in read.timepoints for a in tp.assessments.values() for m in a.measurements
    ):
        report(progress, 4, steps, "DICOM SEG")
        written += export_seg(read, mask_store, headers, out_dir / "seg", cancel=cancel)
    report(progress, steps, steps, "exported")
    return written
