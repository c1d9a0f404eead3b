"""The slice viewer: one series in one plane (axial, coronal, sagittal) with window/level, zoom, pan, overlays.

Screen <-> voxel <-> patient mm: the view's coordinates are in-plane millimetres from the image corner (pixel centres
at (i + 0.5) * spacing); voxels to patient mm go through `Volume` only. The viewer knows nothing of reads or lesions:
it draws the lines and marks the main window gives it, and reports clicks, drawn lines and dragged end points in
patient mm.

Slice numbers: ``slice_index``, ``set_slice`` and ``slice_changed`` speak the volume's array index (sorted along the
slice normal, which is what the rest of the app indexes). What the reader sees and steps through is the image number
of a PACS viewer: image 1 is the most cranial slice of an axial stack and the next image (wheel down, down arrow, Page
Down) is towards the feet, whichever way the array runs (`image_number`, `slice_for_image`, `step`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6.QtCore import QEvent, QObject, QPointF, QRect, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QKeyEvent, QResizeEvent
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from imaging.volume import Volume
from workstation.ui.mm_text import mm

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

Point = tuple[float, float, float]

#: behind the texts on the image: a dark box, readable on a bright image (RGBA; the scale bar's label has it too)
TEXT_BOX_RGBA = (0, 0, 0, 165)
#: the same box, for the style sheet of a label on the image
TEXT_BACKGROUND = f"background: rgba{TEXT_BOX_RGBA}; border-radius: 3px;"
#: the readout's widest usual text: its place is kept for it, so that the scale bar and the bottom letter stay put
#: as the mouse moves and the readout comes, goes and changes length
_READOUT_SAMPLE = "(-888.8, -888.8, -1888.8) mm   -3888 HU"

#: (width, level) in HU.
PRESETS: dict[str, tuple[float, float]] = {
    "Soft tissue": (400.0, 40.0),
    "Lung": (1500.0, -600.0),
    "Liver": (150.0, 90.0),
    "Bone": (1800.0, 400.0),
    "Mediastinum": (350.0, 50.0),
}


#: a window/level this close (HU) to a preset's is that preset (the corner shows whole HU)
_PRESET_TOLERANCE_HU = 0.5


def preset_name(width: float, level: float) -> str | None:
    """The preset whose window these values are, or None for a window of the reader's own (after a drag)."""
    for name, (w, lv) in PRESETS.items():
        if abs(width - w) <= _PRESET_TOLERANCE_HU and abs(level - lv) <= _PRESET_TOLERANCE_HU:
            return name
    return None


#: keys the viewer handles itself (listed in Help > Keyboard shortcuts with the window's actions)
VIEWER_KEYS = (
    ("Wheel, ↑ ↓", "previous / next image (next: towards the feet)"),
    ("PgUp PgDn", "10 images back / forward"),
    ("Home End", "first (head) / last (feet) image"),
    ("+ -, Ctrl+wheel", "zoom in / out about the cursor (keys: else the selected lesion, else the middle)"),
    ("middle drag", "pan"),
    ("right drag", "window / level"),
)


class Plane(StrEnum):
    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


class Tool(StrEnum):
    MEASURE = "measure"  # a click asks the engine for a suggestion
    RULER = "ruler"  # drag a line: the long axis
    BIDIRECTIONAL = "bidirectional"  # drag the long axis, then the short axis
    WINDOW = "window"  # left drag sets window/level
    PAN = "pan"


@dataclass(frozen=True)
class OverlayLine:
    """A recorded measurement to draw: label near the first end, long axis and optional short axis (patient mm)."""

    label: str
    long_axis: tuple[Point, Point]
    short_axis: tuple[Point, Point] | None = None
    color: str = "#ffd400"


@dataclass
class _SliceMarks:
    xs: list[float] = field(default_factory=list)  # line end points, in pairs
    ys: list[float] = field(default_factory=list)
    px: list[float] = field(default_factory=list)  # proposal marks
    py: list[float] = field(default_factory=list)
    sx: list[float] = field(default_factory=list)  # where unmeasured lesions (non-targets) were seen
    sy: list[float] = field(default_factory=list)
    labels: list[tuple[str, float, float, str, tuple[float, float]]] = field(default_factory=list)


_EMPTY_MARKS = _SliceMarks()

_AXIS_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


def orientation_letter(vector: npt.NDArray[np.float64]) -> str:
    """The patient direction (LPS) a screen direction points to, e.g. 'L' or 'A'."""
    axis = int(np.argmax(np.abs(vector)))
    return _AXIS_LETTERS[axis][1 if vector[axis] > 0 else 0]


class _SliceViewBox(pg.ViewBox):  # type: ignore[misc]
    def __init__(self, viewer: SliceViewer) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.viewer = viewer

    def wheelEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)  # zoom about the cursor
            self.viewer.zoom_changed.emit(self.viewer.mm_per_pixel())
            return
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        self.viewer.step(-1 if delta > 0 else 1)  # wheel down: the next image, towards the feet
        ev.accept()

    def keyPressEvent(self, ev: Any) -> None:
        """The viewer's keys, never pyqtgraph's own: after a drag the view box has the keyboard, and its handler took
        +, = and - for its empty zoom history (zoom did nothing until F)."""
        self.viewer.keyPressEvent(ev)

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            p = self.mapToView(ev.pos())
            self.viewer._view_clicked(p.x(), p.y())
            ev.accept()
        else:
            ev.ignore()

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        button = ev.button()
        tool = self.viewer.tool
        if button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and tool is Tool.WINDOW):
            d = ev.pos() - ev.lastPos()
            self.viewer._drag_window(d.x(), d.y())
            ev.accept()
            return
        if button == Qt.MouseButton.LeftButton and tool in (Tool.RULER, Tool.BIDIRECTIONAL):
            a = self.mapToView(ev.buttonDownPos())
            b = self.mapToView(ev.pos())
            self.viewer._drag_line(a.x(), a.y(), b.x(), b.y(), finished=ev.isFinish())
            ev.accept()
            return
        # middle button, or left with the pan/measure tools: pan
        if button in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            ev.accept()
            d = self.mapToView(ev.lastPos()) - self.mapToView(ev.pos())
            self.translateBy(x=d.x(), y=d.y())
            return
        ev.ignore()


class SliceViewer(QWidget):
    slice_changed = pyqtSignal(int)
    #: measure tool: (patient point, axial slice index)
    clicked = pyqtSignal(object, int)
    #: ruler/bidirectional: (long axis, short axis or None, slice index), segments in patient mm
    line_drawn = pyqtSignal(object, object, int)
    #: an end point of the pending measurement was dragged: ("long"|"short", 0|1, new patient point)
    endpoint_moved = pyqtSignal(str, int, object)
    window_changed = pyqtSignal(float, float)
    #: the reader zoomed (keys, Ctrl+wheel): millimetres per screen pixel now (`set_zoom`, `link_zoom`)
    zoom_changed = pyqtSignal(float)

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.volume: Volume | None = None
        self.plane = Plane.AXIAL
        self.cursor_voxel = [0, 0, 0]  # cursor voxel (k, j, i): the plane shows pos[axis]
        self.width_hu, self.level_hu = PRESETS["Soft tissue"]
        self.tool = Tool.MEASURE
        self.loading_text = ""
        self._overlays: list[OverlayLine] = []
        self._proposals: list[tuple[str, Point]] = []
        self._seen: list[tuple[str, Point]] = []
        self._pending_long: tuple[Point, Point] | None = None
        self._pending_short: tuple[Point, Point] | None = None
        self._outline: npt.NDArray[np.bool_] | None = None  # 2-D axial mask on `_outline_k`
        self._outline_k = -1
        self._draft: list[tuple[Point, Point]] = []  # bidirectional tool: long axis drawn, short axis pending
        #: the point the reader last dealt with (selected lesion, click, measurement): what + and - zoom about when
        #: the mouse is not over the image
        self._focus_point: Point | None = None
        #: where the mouse is over the view now (scene coordinates); None once it has left
        self._hover: QPointF | None = None

        self.view = pg.GraphicsView()
        self.view.setBackground("k")
        self.vb = _SliceViewBox(self)
        self.view.setCentralItem(self.vb)
        self.image = pg.ImageItem()
        self.vb.addItem(self.image)
        self.outline_item = pg.ImageItem()
        self.outline_item.setZValue(5)
        self.vb.addItem(self.outline_item)
        self.lines_item = pg.PlotDataItem(connect="pairs", pen=pg.mkPen("#ffd400", width=2))
        self.lines_item.setZValue(10)
        self.vb.addItem(self.lines_item)
        self.draft_item = pg.PlotDataItem(connect="pairs", pen=pg.mkPen("#00e5ff", width=2, style=Qt.PenStyle.DashLine))
        self.draft_item.setZValue(11)
        self.vb.addItem(self.draft_item)
        self.proposal_item = pg.ScatterPlotItem(symbol="+", size=22, pen=pg.mkPen("#ff4fd8", width=2), brush=None)
        self.proposal_item.setZValue(12)
        self.vb.addItem(self.proposal_item)
        self.seen_item = pg.ScatterPlotItem(symbol="o", size=18, pen=pg.mkPen("#ffd400", width=2), brush=None)
        self.seen_item.setZValue(12)
        self.vb.addItem(self.seen_item)
        self._label_pool: list[pg.TextItem] = []
        self._pending_items: list[Any] = []
        self._pending_k: int | None = None
        self._marks_cache: dict[int, _SliceMarks] | None = None
        self._outline_shown: npt.NDArray[np.bool_] | None = None
        self.scale_bar = pg.ScaleBar(size=50, suffix="")
        self.scale_bar.setParentItem(self.vb)
        self.scale_bar.anchor((1, 1), (1, 1), offset=(-16, -34))
        self.scale_bar.text.setText("5 cm")
        self.scale_bar.text.fill = pg.mkBrush(*TEXT_BOX_RGBA)  # readable on bright tissue, as the corner texts
        #: where the readout goes (view pixels), kept for it whether shown or not (`_place_labels`)
        self._readout_room = QRect()
        self._readout_size: QSize | None = None
        self._scale_bar_offset: tuple[float, float] | None = None  # where `_place_scale_bar` last put it

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        # a dark, semi-transparent box behind every text on the image: readable on a bright image (bone window, a
        # contrast-filled vessel) as on air; a label with no text is hidden, so no empty box is left on the image
        self.corner = {name: QLabel(self.view) for name in ("tl", "tr", "bl", "br")}
        self.edge = {name: QLabel(self.view) for name in ("left", "right", "top", "bottom")}
        for lab in self.corner.values():
            lab.setStyleSheet(f"color: #e8e8e8; {TEXT_BACKGROUND} padding: 1px 3px; font-size: 11px;")
        for lab in self.edge.values():
            lab.setStyleSheet(f"color: #ffb347; {TEXT_BACKGROUND} padding: 0px 3px; font-weight: bold; font-size: 13px")
        for lab in (*self.corner.values(), *self.edge.values()):
            lab.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            lab.setVisible(False)
        #: where the mouse was last seen over the image (scene coordinates), for the readout after a slice change
        self._last_mouse: QPointF | None = None
        self.view.scene().sigMouseMoved.connect(self._mouse_seen)
        viewport = self.view.viewport()
        if viewport is not None:  # the mouse leaving the view: + and - no longer zoom about where it was
            viewport.installEventFilter(self)
        # a zoom widens or narrows the scale bar: the bottom letter may meet it, or no longer
        self.vb.sigRangeChanged.connect(lambda *_: self._place_labels())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(240, 240)

    # ---- state -------------------------------------------------------------------------------------------------
    def set_volume(self, volume: Volume | None, slice_index: int | None = None) -> None:
        if volume is not self.volume:
            self._focus_point = None
        self.volume = volume
        self._outline = None
        self._marks_cache = None
        if volume is not None:
            n, rows, cols = volume.shape
            k = n // 2 if slice_index is None else slice_index
            self.cursor_voxel = [int(np.clip(k, 0, n - 1)), rows // 2, cols // 2]
        self.redraw(reset_view=True)

    @property
    def slice_index(self) -> int:
        """The axial slice shown, as an index into the volume's array (not the image number the reader sees)."""
        return self.cursor_voxel[0]

    def _array_runs_to_head(self) -> bool:
        """Whether the array index increases towards the head (the loader sorts along the normal, +z for an axial
        stack in the usual orientation): then image 1, the most cranial, is the last array slice. A stack that is not
        axial keeps the array's order."""
        if self.volume is None:
            return False
        normal = self.volume.normal
        return int(np.argmax(np.abs(normal))) == 2 and bool(normal[2] > 0)

    def image_number(self, k: int | None = None) -> int:
        """The number (1 = the first, most cranial image) the reader sees for axial slice ``k`` (an array index;
        default the slice shown), as a PACS viewer numbers a stack."""
        k = self.cursor_voxel[0] if k is None else int(k)
        if self.volume is None:
            return k + 1
        return self.volume.shape[0] - k if self._array_runs_to_head() else k + 1

    def slice_for_image(self, number: int) -> int:
        """The array index of image ``number`` (1-based, 1 = most cranial); the inverse of `image_number`."""
        if self.volume is None:
            return int(number) - 1
        n = self.volume.shape[0]
        return n - int(number) if self._array_runs_to_head() else int(number) - 1

    def go_to_image(self, number: int) -> None:
        """Show image ``number`` (1 = the first, most cranial), clipped to the stack."""
        if self.volume is None:
            return
        self.set_slice(self.slice_for_image(int(np.clip(number, 1, self.volume.shape[0]))))

    def set_slice(self, k: int) -> None:
        if self.volume is None:
            return
        k = int(np.clip(k, 0, self.volume.shape[0] - 1))
        if k != self.cursor_voxel[0]:
            self.cursor_voxel[0] = k
            self.redraw()
            self.slice_changed.emit(k)

    def step(self, n: int) -> None:
        """``n`` images forward (towards the feet in an axial stack: wheel down, down arrow), or back if negative."""
        if self.volume is None:
            return
        axis = {Plane.AXIAL: 0, Plane.CORONAL: 1, Plane.SAGITTAL: 2}[self.plane]
        if axis == 0:
            self.go_to_image(self.image_number() + n)
        else:
            self.cursor_voxel[axis] = int(np.clip(self.cursor_voxel[axis] + n, 0, self.volume.shape[axis] - 1))
            self.redraw()

    def set_plane(self, plane: Plane) -> None:
        self.plane = Plane(plane)
        self.redraw(reset_view=True)

    def set_window(self, width: float, level: float) -> None:
        self.width_hu, self.level_hu = max(1.0, float(width)), float(level)
        self.image.setLevels((self.level_hu - self.width_hu / 2, self.level_hu + self.width_hu / 2))
        self._update_text()
        self.window_changed.emit(self.width_hu, self.level_hu)

    def set_tool(self, tool: Tool) -> None:
        self.tool = Tool(tool)
        self._draft = []
        self.draft_item.setData([], [])

    def set_overlays(self, overlays: list[OverlayLine]) -> None:
        self._overlays = list(overlays)
        self._marks_cache = None
        self._draw_overlays()

    def set_proposals(self, proposals: list[tuple[str, Point]]) -> None:
        self._proposals = list(proposals)
        self._marks_cache = None
        self._draw_overlays()

    def set_seen(self, points: list[tuple[str, Point]]) -> None:
        """Lesions recorded without a measurement where the reader saw them (a non-target): a ring and the id."""
        self._seen = list(points)
        self._marks_cache = None
        self._draw_overlays()

    def set_pending(
        self,
        long_axis: tuple[Point, Point] | None,
        short_axis: tuple[Point, Point] | None = None,
        outline: npt.NDArray[np.bool_] | None = None,
        outline_slice: int = -1,
    ) -> None:
        """The measurement being decided on: editable end points, and the engine's outline on its slice."""
        self._pending_long, self._pending_short = long_axis, short_axis
        self._outline, self._outline_k = outline, outline_slice
        if long_axis is not None:
            self._focus_point = _middle(long_axis)
        self._build_pending_items()
        self._draw_overlays()

    def center_on(self, point: Point) -> None:
        """Go to the slice holding ``point``; pan it to the middle of the view only when it is out of view (or at the
        very edge), so that accepting or selecting a lesion on screen does not move the image (zoom kept)."""
        if self.volume is None:
            return
        self._focus_point = (float(point[0]), float(point[1]), float(point[2]))
        k, j, i = (float(x) for x in self.volume.patient_to_voxel(point))
        _, rows, cols = self.volume.shape
        self.cursor_voxel[1] = int(np.clip(round(j), 0, rows - 1))
        self.cursor_voxel[2] = int(np.clip(round(i), 0, cols - 1))
        self.set_slice(round(k))
        if self.plane is Plane.AXIAL:
            x, y = self._voxel_to_view(j, i)
            r = self.vb.viewRect()
            inner = r.adjusted(r.width() * 0.1, r.height() * 0.1, -r.width() * 0.1, -r.height() * 0.1)
            if not inner.contains(QPointF(x, y)):
                self.vb.translateBy(x=x - r.center().x(), y=y - r.center().y())
        self.redraw()

    # ---- geometry of the current plane ---------------------------------------------------------------------------
    def _plane_spacing(self) -> tuple[float, float]:
        """(row, column) spacing in mm of the displayed image."""
        assert self.volume is not None
        s = self.volume.spacing
        return {Plane.AXIAL: (s[1], s[2]), Plane.CORONAL: (s[0], s[2]), Plane.SAGITTAL: (s[0], s[1])}[self.plane]

    def _flip_rows(self) -> bool:
        """Reformats show the head at the top: flip the rows when the slice index increases towards the head."""
        assert self.volume is not None
        return bool(self.volume.normal[2] > 0)

    def _plane_image(self) -> npt.NDArray[Any]:
        assert self.volume is not None
        a = self.volume.array
        k, j, i = self.cursor_voxel
        if self.plane is Plane.AXIAL:
            return a[k]  # type: ignore[no-any-return]
        img = a[:, j, :] if self.plane is Plane.CORONAL else a[:, :, i]
        return img[::-1] if self._flip_rows() else img

    def _voxel_to_view(self, j: float, i: float) -> tuple[float, float]:
        sy, sx = self._plane_spacing()
        return (i + 0.5) * sx, (j + 0.5) * sy

    def _view_to_voxel(self, x: float, y: float) -> tuple[float, float, float]:
        """View position -> fractional voxel (k, j, i) in the volume."""
        assert self.volume is not None
        sy, sx = self._plane_spacing()
        r, c = y / sy - 0.5, x / sx - 0.5
        n = self.volume.shape[0]
        k, j, i = (float(v) for v in self.cursor_voxel)
        if self.plane is Plane.AXIAL:
            return k, r, c
        kk = (n - 1 - r) if self._flip_rows() else r
        return (kk, j, c) if self.plane is Plane.CORONAL else (kk, c, i)

    def view_to_patient(self, x: float, y: float) -> Point:
        assert self.volume is not None
        p = self.volume.voxel_to_patient(self._view_to_voxel(x, y))
        return (float(p[0]), float(p[1]), float(p[2]))

    def patient_to_view(self, point: Point) -> tuple[float, float, int]:
        """Axial view position of a patient point and the (rounded) slice it lies on."""
        assert self.volume is not None
        k, j, i = (float(v) for v in self.volume.patient_to_voxel(point))
        x, y = self._voxel_to_view(j, i)
        return x, y, round(k)

    # ---- drawing -------------------------------------------------------------------------------------------------
    def redraw(self, reset_view: bool = False) -> None:
        if self.volume is None:
            self.image.clear()
            self._update_text()
            return
        img = self._plane_image()
        self.image.setImage(
            img, autoLevels=False, levels=(self.level_hu - self.width_hu / 2, self.level_hu + self.width_hu / 2)
        )
        if reset_view:
            sy, sx = self._plane_spacing()
            rect = QRectF(0, 0, img.shape[1] * sx, img.shape[0] * sy)
            self.image.setRect(rect)
            self.vb.setRange(rect, padding=0.0)
        self._draw_overlays()
        self._update_text()
        if self._last_mouse is not None:  # the readout is of the voxel under the cursor on the slice now shown
            self._mouse_moved(self._last_mouse)

    def _marks(self) -> dict[int, _SliceMarks]:
        """Lines, labels and proposal marks per axial slice, computed once per change of overlays (scrolling only
        looks them up: a slice change must stay within a frame)."""
        if self._marks_cache is not None:
            return self._marks_cache
        marks: dict[int, _SliceMarks] = {}
        if self.volume is None:
            return marks
        for ov in self._overlays:
            segs = [ov.long_axis] + ([ov.short_axis] if ov.short_axis else [])
            pts = np.array([p for seg in segs for p in seg], dtype=np.float64)
            kji = self.volume.patient_to_voxel(pts)
            for n in range(len(segs)):
                k = round(float(kji[2 * n, 0]))
                m = marks.setdefault(k, _SliceMarks())
                for row in (kji[2 * n], kji[2 * n + 1]):
                    x, y = self._voxel_to_view(float(row[1]), float(row[2]))
                    m.xs.append(x)
                    m.ys.append(y)
                if n == 0:
                    x, y = self._voxel_to_view(float(kji[0, 1]), float(kji[0, 2]))
                    m.labels.append((ov.label, x, y, ov.color, (1.1, 1.1)))
        for name, point in self._seen:
            x, y, sk = self.patient_to_view(point)
            m = marks.setdefault(sk, _SliceMarks())
            m.sx.append(x)
            m.sy.append(y)
            m.labels.append((name, x, y, "#ffd400", (-0.3, 1.3)))
        for name, point in self._proposals:
            x, y, pk = self.patient_to_view(point)
            for k in (pk - 1, pk, pk + 1):
                m = marks.setdefault(k, _SliceMarks())
                m.px.append(x)
                m.py.append(y)
                m.labels.append((f"{name}?", x, y, "#ff4fd8", (-0.2, 1.2)))
        self._marks_cache = marks
        return marks

    def _build_pending_items(self) -> None:
        """Editable end points of the pending measurement (made once per pending change, shown on its slice)."""
        for item in self._pending_items:
            self.vb.removeItem(item)
        self._pending_items = []
        self._pending_k = None
        if self.volume is None:
            return
        for axis, seg in (("long", self._pending_long), ("short", self._pending_short)):
            if seg is None:
                continue
            ax, ay, ak = self.patient_to_view(seg[0])
            bx, by, _ = self.patient_to_view(seg[1])
            self._pending_k = ak
            colour = "#00ff7f" if axis == "long" else "#00bfff"
            roi = pg.LineSegmentROI([(ax, ay), (bx, by)], pen=pg.mkPen(colour, width=2), movable=False)
            roi.setZValue(20)
            roi.sigRegionChangeFinished.connect(lambda r, a=axis: self._roi_moved(a, r))
            length = float(np.linalg.norm(np.subtract(seg[1], seg[0])))
            # the long axis's length beyond its second end, the short axis's beyond its first: on a small node the
            # two ends are close, and the labels overlapped
            anchor, at = ((-0.1, -0.1), (bx, by)) if axis == "long" else ((1.1, 1.1), (ax, ay))
            label = pg.TextItem(f"{mm(length)} mm", color=colour, anchor=anchor, fill=pg.mkBrush(*TEXT_BOX_RGBA))
            label.setPos(*at)
            label._anchor_wanted = anchor  # (`_keep_lengths_in_view` mirrors it where the text would be hidden)
            for item in (roi, label):
                self.vb.addItem(item)
                self._pending_items.append(item)

    def _draw_overlays(self) -> None:
        axial = self.volume is not None and self.plane is Plane.AXIAL
        k = self.cursor_voxel[0]
        m = self._marks().get(k, _EMPTY_MARKS) if axial else _EMPTY_MARKS
        self.lines_item.setData(m.xs, m.ys)
        self.proposal_item.setData(m.px, m.py)
        self.seen_item.setData(m.sx, m.sy)
        while len(self._label_pool) < len(m.labels):
            item = pg.TextItem("", anchor=(0, 0))
            self.vb.addItem(item)
            self._label_pool.append(item)
        for n, item in enumerate(self._label_pool):
            if n >= len(m.labels):
                item.setVisible(False)
                continue
            text, x, y, colour, anchor = m.labels[n]
            if getattr(item, "_shown", None) != (text, colour, anchor):
                item.setText(text, color=colour)
                item.setAnchor(anchor)
                item._shown = (text, colour, anchor)
            item.setPos(x, y)
            item.setVisible(True)
        show_outline = axial and self._outline is not None and self._outline_k == k
        if show_outline and self._outline_shown is not self._outline:
            assert self._outline is not None
            self.outline_item.setImage(_outline_rgba(self._outline), autoLevels=False)
            self.outline_item.setRect(self.image.mapRectToParent(self.image.boundingRect()))
            self._outline_shown = self._outline
        self.outline_item.setVisible(show_outline)
        for item in self._pending_items:
            item.setVisible(axial and self._pending_k == k)
        self._keep_lengths_in_view()

    def _keep_lengths_in_view(self) -> None:
        """A length written beside an end of the measurement waiting goes to the end's other side where it would run
        out of the view or under an orientation letter ("R3.1 mm", "0 R mm" on a right-sided lesion in the narrow
        follow-up viewer)."""
        view_rect = self.view.rect()
        letters = [lab.geometry() for lab in self.edge.values() if not lab.isHidden()]
        for item in self._pending_items:
            wanted = getattr(item, "_anchor_wanted", None)
            if wanted is None or not item.isVisible():
                continue
            best: tuple[int, tuple[float, float]] | None = None
            for anchor in (wanted, (1.0 - wanted[0], wanted[1]), (wanted[0], 1.0 - wanted[1]),
                           (1.0 - wanted[0], 1.0 - wanted[1])):
                item.setAnchor(anchor)
                box = self.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
                # cut at the edge is worse than under a letter; the first side without either wins
                cost = 2 * (not view_rect.contains(box)) + any(box.intersects(g) for g in letters)
                if best is None or cost < best[0]:
                    best = (cost, anchor)
                if cost == 0:
                    break
            if best is not None:
                item.setAnchor(best[1])

    def _roi_moved(self, axis: str, roi: pg.LineSegmentROI) -> None:
        seg = self._pending_long if axis == "long" else self._pending_short
        if seg is None:
            return
        handles = roi.getSceneHandlePositions()
        for end, (_, scene_pos) in enumerate(handles[:2]):
            p = self.vb.mapSceneToView(scene_pos)
            new = self.view_to_patient(p.x(), p.y())
            if float(np.linalg.norm(np.subtract(new, seg[end]))) > 0.05:
                self.endpoint_moved.emit(axis, end, new)
                return

    def _set_label(self, label: QLabel, text: str) -> bool:
        label.setVisible(bool(text))  # an empty label would leave its dark box on the image
        if label.text() == text:
            return False
        label.setText(text)
        label.adjustSize()
        return True

    def _update_text(self) -> None:
        """Corner texts and orientation letters; labels are only touched (and re-placed) when their text changes."""
        v = self.volume
        c, e = self.corner, self.edge
        changed = self._set_label(c["tl"], self._title_shown())
        preset = preset_name(self.width_hu, self.level_hu)  # named only while the values are the preset's
        wl = f"W {self.width_hu:.0f}  L {self.level_hu:.0f}" + (f"  {preset.lower()}" if preset else "")
        changed |= self._set_label(c["tr"], wl)
        if v is None:
            changed |= self._set_label(c["bl"], "no images")
            for lab in e.values():
                changed |= self._set_label(lab, "")
        else:
            n = v.shape[0]
            k = self.cursor_voxel[0]
            thick = v.info.slice_thickness_mm
            thick_txt = f"  thk {thick:g} mm" if thick else ""
            if self.plane is Plane.AXIAL:
                numbers = v.info.instance_numbers
                number = numbers[k] if k < len(numbers) else None
                instance = f" (#{number})" if number is not None else ""  # the image's number in a PACS viewer
                # image 1 = the most cranial, as a PACS viewer numbers it (and as InstanceNumber usually runs)
                where = f"Im {self.image_number(k)}/{n}{instance}  z {v.slice_position_mm(k):.1f} mm{thick_txt}"
            else:
                axis = 1 if self.plane is Plane.CORONAL else 2
                where = f"{self.plane.value} {self.cursor_voxel[axis] + 1}/{v.shape[axis]}"
            changed |= self._set_label(c["bl"], where)
            d = v.direction
            right = d[:, 2] if self.plane is not Plane.SAGITTAL else d[:, 1]
            down = d[:, 1] if self.plane is Plane.AXIAL else (-d[:, 0] if self._flip_rows() else d[:, 0])
            changed |= self._set_label(e["right"], orientation_letter(right))
            changed |= self._set_label(e["left"], orientation_letter(-right))
            changed |= self._set_label(e["bottom"], orientation_letter(down))
            changed |= self._set_label(e["top"], orientation_letter(-down))
        if changed:
            self._place_labels()

    def _place_labels(self) -> None:
        """Corner texts in the corners, orientation letters at the middle of the edges, the scale bar at the bottom
        right above the readout's place; a letter meeting a text or the scale bar moves inwards past it, so none covers
        another at any width (at 200 % the top letter sat on the window values, the readout on the bottom letter
        and on the scale bar)."""
        w, h = self.view.width(), self.view.height()
        c, e = self.corner, self.edge
        self._set_label(c["tl"], self._title_shown())  # on two lines where the view became too narrow for one
        c["tl"].move(6, 4)
        tr_x = w - c["tr"].width() - 6
        # under the title when the two would meet (a narrow viewer, a long title: "week 12 (previous, nadir)")
        c["tr"].move(tr_x, 4 if 6 + c["tl"].width() + 8 <= tr_x else 4 + c["tl"].height() + 2)
        c["bl"].move(6, h - c["bl"].height() - 4)
        room = self._readout_size_now()
        x, y = w - room.width() - 6, h - room.height() - 4
        if not c["bl"].isHidden() and x < 6 + c["bl"].width() + 8:
            y -= c["bl"].height() + 2  # above the slice's text where the two would meet (a narrow viewer)
        self._readout_room = QRect(x, y, room.width(), room.height())
        self._place_readout()
        scale = self._place_scale_bar(self._readout_room.top() - 2)
        e["left"].move(4, h // 2 - e["left"].height() // 2)
        e["right"].move(w - e["right"].width() - 4, h // 2 - e["right"].height() // 2)
        top = QRect(w // 2 - e["top"].width() // 2, 4, e["top"].width(), e["top"].height())
        e["top"].move(_clear(top, self._shown(c["tl"], c["tr"]), up=False).topLeft())
        bottom = QRect(w // 2 - e["bottom"].width() // 2, h - e["bottom"].height() - 4, e["bottom"].width(),
                       e["bottom"].height())
        below = [*self._shown(c["bl"]), self._readout_room, *scale]
        e["bottom"].move(_clear(bottom, below, up=True).topLeft())

    @staticmethod
    def _shown(*labels: QLabel) -> list[QRect]:
        return [lab.geometry() for lab in labels if not lab.isHidden()]

    def _readout_size_now(self) -> QSize:
        """The readout's place: as wide as its widest usual text, or its text now where that is wider."""
        br = self.corner["br"]
        if self._readout_size is None:
            br.ensurePolished()  # the style sheet's font
            text = br.text()
            br.setText(_READOUT_SAMPLE)
            self._readout_size = br.sizeHint()
            br.setText(text)
        size = QSize(self._readout_size)
        if br.text():
            size.setWidth(max(size.width(), br.width()))
        return size

    def _place_scale_bar(self, bottom: int) -> list[QRect]:
        """The scale bar at the right with its lowest pixel row at ``bottom`` (view pixels); where its bar and its
        label are now (view pixels)."""
        bar = self.scale_bar.bar.rect()  # right end at the anchor, the label above the bar (pg.ScaleBar)
        # anchored to the view box's bounding rect (half a pixel larger than the box)
        offset = (-16.0, float(bottom + 1) - bar.height() - self.vb.boundingRect().height())
        if offset != self._scale_bar_offset:
            self._scale_bar_offset = offset
            self.scale_bar.anchor((1, 1), (1, 1), offset=offset)  # now: the box may be resized, and not yet told it
            # the bar's own bounding rect is empty (pg.ScaleBar): moved, its old place was not repainted and two
            # bars showed, one with its text struck through
            viewport = self.view.viewport()
            if viewport is not None:
                viewport.update()
        to_view = self.view.viewportTransform()
        return [
            to_view.mapRect(item.sceneBoundingRect()).toAlignedRect()
            for item in (self.scale_bar.bar, self.scale_bar.text)
        ]

    def _title_shown(self) -> str:
        """The title, its last part (the date) on a line of its own where one line is wider than the view (the
        narrow follow-up viewer cut "week 6 (previous, nadir) · 2026-02-1")."""
        title = self.title
        label = self.corner["tl"]
        if " · " in title and label.fontMetrics().horizontalAdvance(title) + 20 > self.view.width():
            head, _, last = title.rpartition(" · ")
            title = f"{head}\n{last}"
        return title + (f"\n{self.loading_text}" if self.loading_text else "")

    def resizeEvent(self, a0: QResizeEvent | None) -> None:
        super().resizeEvent(a0)
        self._place_labels()

    # ---- input ---------------------------------------------------------------------------------------------------
    def _mouse_seen(self, scene_pos: QPointF) -> None:
        """The mouse moved over the view: where it is now (what + and - zoom about), and the readout there."""
        inside = self.volume is not None and self.vb.sceneBoundingRect().contains(scene_pos)
        self._hover = QPointF(scene_pos) if inside else None
        self._mouse_moved(scene_pos)

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        """The readout of the voxel at ``scene_pos`` (the mouse, or where it was last seen after a slice change)."""
        if self.volume is None or not self.vb.sceneBoundingRect().contains(scene_pos):
            self._clear_readout()  # off the image: no value of a voxel the mouse has left
            return
        self._last_mouse = QPointF(scene_pos)
        p = self.vb.mapSceneToView(scene_pos)
        k, j, i = (round(x) for x in self._view_to_voxel(p.x(), p.y()))
        br = self.corner["br"]
        if not self.volume.contains_voxel((k, j, i)):
            br.setText("")
        else:
            hu = float(self.volume.array[k, j, i])
            x, y, z = self.view_to_patient(p.x(), p.y())
            br.setText(f"({x:.1f}, {y:.1f}, {z:.1f}) mm   {hu:.0f} HU")
        br.setVisible(bool(br.text()))
        br.adjustSize()
        self._place_readout()

    def eventFilter(self, a0: QObject | None, a1: QEvent | None) -> bool:
        if a1 is not None and a1.type() == QEvent.Type.Leave:
            self._hover = None
            self._clear_readout()
        return super().eventFilter(a0, a1)

    def _clear_readout(self) -> None:
        """The mouse left the image: the position and HU it showed are no one's now."""
        self._last_mouse = None
        br = self.corner["br"]
        br.setText("")
        br.setVisible(False)

    # ---- zoom ----------------------------------------------------------------------------------------------------
    def mm_per_pixel(self) -> float:
        """The zoom: millimetres of the image per screen pixel (the view keeps the image's aspect)."""
        width = float(self.vb.width())
        return float(self.vb.viewRect().width()) / width if width > 0 else 0.0

    def _image_rect(self) -> QRectF:
        """The image's extent in view coordinates (mm)."""
        return self.image.mapRectToParent(self.image.boundingRect())  # type: ignore[no-any-return]

    def _plane_view_of(self, point: Point) -> tuple[float, float]:
        """Where a patient point falls in the plane shown (view mm), whichever slice it is on."""
        assert self.volume is not None
        k, j, i = (float(v) for v in self.volume.patient_to_voxel(point))
        if self.plane is Plane.AXIAL:
            return self._voxel_to_view(j, i)
        row = (self.volume.shape[0] - 1 - k) if self._flip_rows() else k
        sy, sx = self._plane_spacing()
        col = i if self.plane is Plane.CORONAL else j
        return (col + 0.5) * sx, (row + 0.5) * sy

    def _zoom_anchor(self, use_cursor: bool = True) -> QPointF | None:
        """What the keys zoom about (view mm): the cursor when it is over the image, else the point the reader last
        dealt with (selected lesion, click, measurement) when it is in view, else None (the middle of the view)."""
        if self.volume is None:
            return None
        if use_cursor and self._hover is not None and self.vb.sceneBoundingRect().contains(self._hover):
            p = self.vb.mapSceneToView(self._hover)
            if self._image_rect().contains(p):
                return QPointF(p)
        if self._focus_point is not None:
            x, y = self._plane_view_of(self._focus_point)
            if self.vb.viewRect().contains(QPointF(x, y)):
                return QPointF(x, y)
        return None

    def zoom(self, factor: float) -> None:
        """Zoom in (``factor`` > 1) or out about `_zoom_anchor`, as + and - do."""
        s = 1.0 / float(factor)
        self.vb.scaleBy((s, s), center=self._zoom_anchor())
        self.zoom_changed.emit(self.mm_per_pixel())

    def set_zoom(self, mm_per_pixel: float) -> None:
        """Show the image at ``mm_per_pixel`` (another viewer's zoom), about the point the reader last dealt with
        here, else the middle; no `zoom_changed` (two linked viewers would answer each other)."""
        now = self.mm_per_pixel()
        if self.volume is None or now <= 0 or mm_per_pixel <= 0 or abs(mm_per_pixel / now - 1.0) < 1e-6:
            return
        s = mm_per_pixel / now
        self.vb.scaleBy((s, s), center=self._zoom_anchor(use_cursor=False))

    def link_zoom(self, other: SliceViewer, when: Callable[[], bool] = lambda: True) -> None:
        """Zoom ``other`` with this viewer and this one with ``other`` (the same mm per pixel), while ``when()``
        (e.g. the window's 'keep in step' box) says so."""
        self.zoom_changed.connect(lambda z: other.set_zoom(z) if when() else None)
        other.zoom_changed.connect(lambda z: self.set_zoom(z) if when() else None)

    def _place_readout(self) -> None:
        """The cursor readout at the right of its place (`_place_labels`); a text wider than the place lays the labels
        out again around it."""
        br, room = self.corner["br"], self._readout_room
        if br.text() and br.width() > room.width():
            self._place_labels()
            return
        br.move(room.right() + 1 - br.width(), room.top())

    def _view_clicked(self, x: float, y: float) -> None:
        if self.volume is None:
            return
        self.setFocus()
        k, j, i = self._view_to_voxel(x, y)
        if not self.volume.contains_voxel((round(k), round(j), round(i))):
            return
        if self.plane is not Plane.AXIAL:  # a click in a reformat moves the axial slice there
            self.cursor_voxel[1], self.cursor_voxel[2] = round(j), round(i)
            self.set_slice(round(k))
            self.redraw()
            return
        self.cursor_voxel[1], self.cursor_voxel[2] = round(j), round(i)
        if self.tool is Tool.MEASURE:
            self._focus_point = self.view_to_patient(x, y)
            self.clicked.emit(self._focus_point, self.cursor_voxel[0])

    def _drag_window(self, dx: float, dy: float) -> None:
        scale = max(self.width_hu, 50.0) / 300.0
        self.set_window(self.width_hu + dx * scale, self.level_hu - dy * scale)

    def _drag_line(self, ax: float, ay: float, bx: float, by: float, finished: bool) -> None:
        if self.volume is None or self.plane is not Plane.AXIAL:
            return
        seg = (self.view_to_patient(ax, ay), self.view_to_patient(bx, by))
        views = [self.patient_to_view(p)[:2] for s in [*self._draft, seg] for p in s]
        self.draft_item.setData([v[0] for v in views], [v[1] for v in views])
        if not finished:
            return
        if self.tool is Tool.BIDIRECTIONAL and not self._draft:
            self._draft = [seg]
            return
        long_axis = self._draft[0] if self._draft else seg
        short_axis = seg if self._draft else None
        self._draft = []
        self.draft_item.setData([], [])
        self._focus_point = _middle(long_axis)
        self.line_drawn.emit(long_axis, short_axis, self.cursor_voxel[0])

    def keyPressEvent(self, a0: QKeyEvent | None) -> None:
        if a0 is None:
            return
        key = a0.key()
        steps: dict[int, int] = {  # in images: down = next = towards the feet
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_Down: 1,
            Qt.Key.Key_PageUp: -10,
            Qt.Key.Key_PageDown: 10,
        }
        if key in steps:
            self.step(steps[key])
        elif key == Qt.Key.Key_Home and self.volume is not None:
            if self.plane is Plane.AXIAL:
                self.go_to_image(1)  # the first image: the most cranial
            else:
                self.step(-max(self.volume.shape))
        elif key == Qt.Key.Key_End and self.volume is not None:
            if self.plane is Plane.AXIAL:
                self.go_to_image(self.volume.shape[0])  # the last image: the most caudal
            else:
                self.step(max(self.volume.shape))
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
        elif key == Qt.Key.Key_Minus:
            self.zoom(0.8)
        else:
            super().keyPressEvent(a0)


def _clear(rect: QRect, obstacles: list[QRect], up: bool, gap: int = 2) -> QRect:
    """``rect`` moved up (or down) past every obstacle it meets, ``gap`` pixels clear of it."""
    moved = True
    while moved:
        moved = False
        for ob in obstacles:
            if rect.intersects(ob.adjusted(-gap, -gap, gap, gap)):
                if up:
                    rect.moveBottom(ob.top() - gap - 1)
                else:
                    rect.moveTop(ob.bottom() + gap + 1)
                moved = True
    return rect


def _middle(segment: tuple[Point, Point]) -> Point:
    a, b = segment
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2)


def _outline_rgba(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """The edge of a 2-D mask as a semi-opaque RGBA image (inside faintly tinted)."""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    edge = mask & ~inner
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[mask] = (255, 80, 80, 40)
    rgba[edge] = (255, 60, 60, 230)
    return rgba
