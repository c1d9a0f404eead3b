"""Export the read being made, from the workstation: every format the export module writes (CSV/JSON tables, the
lossless read file, SDTM TU/TR/RS, DICOM SR TID 1500 per timepoint and DICOM SEG of the lesion masks), with its
responses under both RECIST 1.1 and iRECIST (`workstation.export.both_criteria`).

All or nothing, as `recist export` is: everything is written into a hidden staging folder inside the chosen folder
(`workstation.export.staging`) and moved into place only once every format was written. A failure or a cancellation
removes the staging folder and leaves the chosen folder as it was. One exception, as with `recist export all`: a read
whose SR cannot be built (end points without a frame of reference, an image whose study and series it does not
know) is exported without its SR, one whose SEG cannot be (a mask missing from the store, a mask's images not among
those opened) without its SEG, and `ReadExport.left_out` says why.

Slow (SR/SEG read every source header): the GUI runs it in a worker with progress and cancel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imaging.cancel import Cancelled, CancelToken, ProgressCallback, report
from workstation.export.staging import ExportScope, LeftoversError, StagedFolder, StagingError
from workstation.mask_store import MaskStore
from workstation.read_model import Read


class ReadExportError(Exception):
    """The export failed. The message says what was being written, for which read, why, and that nothing was written
    (when moving the written files into place failed: how many were moved before it)."""


#: STUDYID (and the SR's protocol id) when the trial states no protocol id (`recist export` without --study-id, the
#: app for a folder whose trial.json has no protocol_id); said wherever it is used: a submission needs the protocol's.
DEFAULT_STUDY_ID = "RECIST-TRIAL"


@dataclass(frozen=True)
class ReadExport:
    """What an export of the read wrote: ``files`` in place under the chosen folder, and ``left_out``, one line per
    format not written and why (the read's other formats were)."""

    files: list[Path]
    left_out: list[str] = field(default_factory=list)


def export_read(
    read: Read,
    out_dir: Path,
    image_folders: Sequence[Path],
    mask_store: MaskStore | None,
    study_id: str = DEFAULT_STUDY_ID,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ReadExport:
    """Write every format ``read`` allows under ``out_dir``, all or nothing. SR and SEG need the source images.
    ``read`` is only read; a caller that keeps editing it meanwhile passes a copy (the app takes one on its GUI
    thread when Ctrl+E is pressed).

    A format that cannot be written is a `ReadExportError` naming it; `Cancelled` when ``cancel`` is set. Either way
    nothing is left in ``out_dir``."""
    from workstation.export.both_criteria import under_both_criteria
    from workstation.export.dicom_seg import SegExportError, export_seg, load_headers
    from workstation.export.dicom_sr import SRExportError, export_sr
    from workstation.export.read_json import write_read
    from workstation.export.sdtm import build_sdtm, write_sdtm
    from workstation.export.tables import write_tables

    staged = StagedFolder(out_dir, ExportScope(study_id, {read.read_id: read.subject_id}))
    try:
        staged.open()
    except OSError as exc:
        raise ReadExportError(f"cannot write into {out_dir} ({exc.strerror or exc}); nothing was written") from None
    steps = 5
    left_out: list[str] = []
    step = "the responses"
    try:
        out = staged.path
        report(progress, 0, steps, "responses")
        both = under_both_criteria([read])  # its responses under RECIST 1.1 and iRECIST, as the app shows them
        left_out += both.left_out
        step = "the CSV tables"
        write_tables(both.reads, both.results, out / "tables", both.source)
        report(progress, 1, steps, "SDTM")
        step = "SDTM"
        write_sdtm(build_sdtm(both.reads, both.results, study_id, derived=both.source), out / "sdtm", study_id)
        step = "the read file"
        safe = "".join(c if c.isalnum() or c in "-." else "_" for c in f"{read.subject_id}_{read.read_id}")
        write_read(read, out / "reads" / f"{safe}.json")
        if cancel is not None:
            cancel.raise_if_cancelled()
        if not image_folders:
            left_out.append("no DICOM SR or SEG: none of the read's images was opened from a DICOM folder")
        else:
            report(progress, 2, steps, "reading the source image headers")
            step = "SR"
            files = [p for folder in image_folders for p in sorted(folder.rglob("*")) if p.is_file()]
            headers = load_headers(files)
            if cancel is not None:
                cancel.raise_if_cancelled()
            report(progress, 3, steps, "DICOM SR")
            try:
                export_sr(read, out / "sr", headers, cancel=cancel, protocol_id=study_id)
            except SRExportError as exc:  # none of its files was written (export_sr builds every one first)
                left_out.append(f"no DICOM SR: {exc}")
            if mask_store is not None and any(
                m.mask_ref for tp in read.timepoints for a in tp.assessments.values() for m in a.measurements
            ):
                report(progress, 4, steps, "DICOM SEG")
                step = "SEG"
                try:
                    export_seg(read, mask_store, headers, out / "seg", cancel=cancel)
                except SegExportError as exc:  # none of its files was written (export_seg builds every one first)
                    left_out.append(f"no DICOM SEG: {exc}")
        if cancel is not None:
            cancel.raise_if_cancelled()  # the last chance: once files are moved into place, they stay
        try:
            written = staged.commit()
        except LeftoversError as exc:
            raise ReadExportError(f"{exc}; nothing was written to {out_dir}") from None
        except StagingError as exc:
            raise ReadExportError(str(exc)) from None
    except (Cancelled, ReadExportError):
        raise
    except Exception as exc:
        why = str(exc) if isinstance(exc, ValueError | OSError) else f"unexpected error: {type(exc).__name__}: {exc}"
        raise ReadExportError(
            f"writing {step} failed for subject {read.subject_id}, read {read.read_id} ({read.reader}): {why}; "
            f"nothing was written to {out_dir}"
        ) from None
    finally:
        staged.discard()
    report(progress, steps, steps, "exported")
    return ReadExport(written, left_out)
