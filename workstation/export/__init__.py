"""Export and import of reads: CDISC SDTM (TU/TR/RS), DICOM SR TID 1500, DICOM SEG, CSV/JSON and the engine's case file.

Each format lives in its own module; none of them imports Qt. Formats that need numpy/pydicom/highdicom are imported
only by the modules that write them, so the SDTM and JSON writers stay light.
"""
