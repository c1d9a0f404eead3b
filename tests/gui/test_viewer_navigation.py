"""The viewer as a radiologist used to a PACS expects it (a radiologist's findings): image 1 is the most cranial
slice and the next image is towards the feet (wheel, arrows, Page Up/Down, Home/End), whichever way the volume's array
runs, with the counter agreeing with InstanceNumber; + and - zoom about the cursor (else the selected lesion, else the
middle); the texts on the image stay readable on a bright image; the corner names a window preset only while its
values are the preset's; two viewers can share their zoom."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PyQt6.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt6.QtGui import QWheelEvent
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from imaging.volume import Volume
from tests.gui.conftest import LESIONS
from tests.gui.phantom import phantom_volume
from tests.gui.test_reading_flow import _open
from workstation.ui.viewer import PRESETS, Plane, SliceViewer, preset_name

N = 40  # slices of the phantom, 2.5 mm apart; its array runs from the feet (k = 0) to the head


def _feet_first_array() -> Volume:
    """The phantom with its array the other way round: k = 0 is the most cranial slice (slice normal -z)."""
    v = phantom_volume(LESIONS)
    top = v.voxel_to_patient((N - 1, 0, 0))
    direction = v.direction.copy()
    direction[:, 0] = -direction[:, 0]
    return Volume(np.ascontiguousarray(v.array[::-1]), v.spacing, top, direction, v.info)


@pytest.fixture
def viewer(qtbot):
    v = SliceViewer("test")
    qtbot.addWidget(v)
    v.resize(500, 500)
    v.show()
    qtbot.waitExposed(v)
    return v


def _z(v: SliceViewer) -> float:
    return float(v.volume.voxel_to_patient((v.slice_index, 0, 0))[2])


def _wheel(v: SliceViewer, down: bool, modifiers=Qt.KeyboardModifier.NoModifier, at: QPointF | None = None) -> None:
    """A real wheel turn over the viewer (down: towards the reader)."""
    viewport = v.view.viewport()
    pos = QPointF(viewport.width() / 2, viewport.height() / 2) if at is None else at
    event = QWheelEvent(
        pos,
        QPointF(viewport.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120 if down else 120),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


@pytest.mark.parametrize("array_order", ["feet to head", "head to feet"])
def test_image_one_is_the_head_and_the_next_image_goes_to_the_feet(viewer, array_order):
    v = viewer
    v.set_volume(phantom_volume(LESIONS) if array_order == "feet to head" else _feet_first_array())
    tops = [float(v.volume.voxel_to_patient((k, 0, 0))[2]) for k in range(N)]
    QTest.keyClick(v, Qt.Key.Key_Home)
    assert _z(v) == pytest.approx(max(tops)) and v.corner["bl"].text().startswith(f"Im 1/{N} ")
    assert v.image_number() == 1
    z = _z(v)
    QTest.keyClick(v, Qt.Key.Key_Down)  # the next image: 2.5 mm towards the feet
    assert _z(v) == pytest.approx(z - 2.5) and v.corner["bl"].text().startswith(f"Im 2/{N} ")
    _wheel(v, down=True)
    assert _z(v) == pytest.approx(z - 5.0) and v.image_number() == 3
    QTest.keyClick(v, Qt.Key.Key_PageDown)
    assert _z(v) == pytest.approx(z - 30.0) and v.image_number() == 13
    _wheel(v, down=False)
    QTest.keyClick(v, Qt.Key.Key_Up)
    assert _z(v) == pytest.approx(z - 25.0) and v.image_number() == 11
    QTest.keyClick(v, Qt.Key.Key_PageUp)
    assert v.image_number() == 1
    QTest.keyClick(v, Qt.Key.Key_Up)  # no image before the first
    assert v.image_number() == 1
    QTest.keyClick(v, Qt.Key.Key_End)  # the last image: the most caudal
    assert _z(v) == pytest.approx(min(tops)) and v.corner["bl"].text().startswith(f"Im {N}/{N} ")
    # the viewer's slice API keeps the array's index: image numbers translate both ways
    for k in (0, 7, N - 1):
        assert v.slice_for_image(v.image_number(k)) == k
    v.go_to_image(5)
    assert v.image_number() == 5 and _z(v) == pytest.approx(max(tops) - 10.0)


def test_the_image_number_is_the_instance_number_a_pacs_shows(viewer):
    """The radiologist read 'Im 13/20 (#8)': InstanceNumber counts from the head, the viewer counted from the feet."""
    v = phantom_volume(LESIONS)
    from_head = tuple(N - k for k in range(N))  # as the sample trial's (and most scanners') series number them
    v = dataclasses.replace(v, info=dataclasses.replace(v.info, instance_numbers=from_head))
    viewer.set_volume(v, slice_index=12)
    assert viewer.corner["bl"].text().startswith(f"Im {N - 12}/{N} (#{N - 12})")
    QTest.keyClick(viewer, Qt.Key.Key_Down)
    assert viewer.corner["bl"].text().startswith(f"Im {N - 11}/{N} (#{N - 11})")


@pytest.mark.parametrize("array_order", ["feet to head", "head to feet"])
@pytest.mark.parametrize("plane", [Plane.CORONAL, Plane.SAGITTAL])
def test_reformats_show_the_head_at_the_top(viewer, array_order, plane):
    v = viewer
    volume = phantom_volume(LESIONS) if array_order == "feet to head" else _feet_first_array()
    v.set_volume(volume)
    v.set_plane(plane)
    head = int(np.argmax([volume.voxel_to_patient((k, 0, 0))[2] for k in range(N)]))
    _, j, i = v.cursor_voxel
    expected_top = volume.array[head, j, :] if plane is Plane.CORONAL else volume.array[head, :, i]
    np.testing.assert_array_equal(v.image.image[0], expected_top)
    assert v.edge["top"].text() == "S" and v.edge["bottom"].text() == "I"
    # a click on the top row goes to the most cranial axial image
    sy, _ = v._plane_spacing()
    v._view_clicked(20.0, 0.5 * sy)
    assert v.slice_index == head and v.image_number() == 1


def test_linked_viewers_scroll_together_towards_the_feet(qtbot, window):
    """At a follow-up the baseline viewer follows the current one's next image (and the other way round), and a
    lesion's jump shows its image in both."""
    w = window
    _open(qtbot, w)
    QTest.keyClick(w, Qt.Key.Key_BracketRight)
    qtbot.waitUntil(lambda: w.volume(1) is not None and w.compare_viewer.volume is not None, timeout=5000)
    cur, base = w.current_viewer, w.compare_viewer
    z_cur, z_base = _z(cur), _z(base)
    QTest.keyClick(cur, Qt.Key.Key_Down)
    assert _z(cur) == pytest.approx(z_cur - 2.5) and _z(base) < z_base
    assert abs(_z(base) - _z(cur)) <= 2.5  # the same patient position (the phantom moved 3 mm, not along z)
    QTest.keyClick(base, Qt.Key.Key_Home)
    assert base.image_number() == 1 and cur.image_number() <= 2
    _wheel(base, down=True)
    assert base.image_number() == 2 and _z(cur) < _z(base) + 2.5
    # a jump to a lesion: the viewer shows its slice, and the counter is that slice's image number
    cur.center_on(LESIONS[0].centre_mm)
    k = cur.patient_to_view(LESIONS[0].centre_mm)[2]
    assert cur.slice_index == k and cur.corner["bl"].text().startswith(f"Im {N - k}/{N} ")


def _scene_of(v: SliceViewer, x: float, y: float) -> QPointF:
    return v.vb.mapViewToScene(QPointF(x, y))


def test_plus_and_minus_zoom_about_the_cursor_else_the_selected_point(viewer):
    v = viewer
    v.set_volume(phantom_volume(LESIONS))
    QApplication.processEvents()
    r = v.vb.viewRect()
    # the cursor over the image, off the middle (a lesion in a corner): it stays under the cursor
    x, y = r.left() + r.width() * 0.2, r.top() + r.height() * 0.75
    at = _scene_of(v, x, y)
    v.view.scene().sigMouseMoved.emit(at)
    QTest.keyClick(v, Qt.Key.Key_Plus)
    QTest.keyClick(v, Qt.Key.Key_Plus)
    assert v.vb.viewRect().width() < r.width() * 0.7
    after = _scene_of(v, x, y)
    assert abs(after.x() - at.x()) < 1.5 and abs(after.y() - at.y()) < 1.5
    QTest.keyClick(v, Qt.Key.Key_Minus)
    after = _scene_of(v, x, y)
    assert abs(after.x() - at.x()) < 1.5 and abs(after.y() - at.y()) < 1.5

    # the mouse gone from the view: about the point the reader last dealt with (here the selected lesion)
    QApplication.sendEvent(v.view.viewport(), QEvent(QEvent.Type.Leave))
    v.redraw(reset_view=True)
    v.center_on(LESIONS[1].centre_mm)
    lx, ly, _ = v.patient_to_view(LESIONS[1].centre_mm)
    at = _scene_of(v, lx, ly)
    QTest.keyClick(v, Qt.Key.Key_Plus)
    after = _scene_of(v, lx, ly)
    assert v.vb.viewRect().width() < r.width() * 0.9
    assert abs(after.x() - at.x()) < 1.5 and abs(after.y() - at.y()) < 1.5

    # nothing known (another series): about the middle of the view
    v.set_volume(phantom_volume(LESIONS, uid="1.2.99"))
    middle = v.vb.viewRect().center()
    QTest.keyClick(v, Qt.Key.Key_Plus)
    assert v.vb.viewRect().center().x() == pytest.approx(middle.x(), abs=0.5)
    assert v.vb.viewRect().center().y() == pytest.approx(middle.y(), abs=0.5)


def _luminance(image, rect) -> float:
    """The median grey level of a widget grab inside ``rect`` (device-independent pixels)."""
    ratio = image.devicePixelRatio()
    values = [
        _lightness(image.pixel(int(px * ratio), int(py * ratio)))
        for px in range(rect.left(), rect.right() + 1)
        for py in range(rect.top(), rect.bottom() + 1)
    ]
    return float(np.median(values))


def _lightness(rgb: int) -> int:
    r, g, b = (rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF
    return (r * 299 + g * 587 + b * 114) // 1000


def test_the_corner_texts_are_readable_on_a_bright_image(viewer):
    v = viewer
    volume = phantom_volume(LESIONS)
    volume.array[:] = 3000  # a white image (dense bone, contrast, metal) under every text
    v.set_volume(volume)
    v.view.scene().sigMouseMoved.emit(_scene_of(v, 40.0, 40.0))
    QApplication.processEvents()
    image = v.view.grab().toImage()
    for label in (v.corner["tr"], v.corner["bl"], v.corner["br"], v.edge["left"]):
        assert label.isVisible() and label.text()
        # light text on a dark box: the box, most of the label, is dark however bright the image under it
        assert _luminance(image, label.geometry()) < 120, label.text()
    # a label with nothing to say leaves no box behind
    v.title = ""
    v.set_window(400, 40)
    assert not v.corner["tl"].isVisible()


def test_the_corner_names_a_preset_only_while_the_window_is_the_presets(viewer):
    v = viewer
    v.set_volume(phantom_volume(LESIONS))
    assert v.corner["tr"].text() == "W 400  L 40  soft tissue"
    v._drag_window(80.0, 40.0)  # a right drag
    assert (round(v.width_hu), round(v.level_hu)) != PRESETS["Soft tissue"]
    assert "soft" not in v.corner["tr"].text() and v.corner["tr"].text().startswith("W ")
    v.set_window(*PRESETS["Lung"])
    assert v.corner["tr"].text() == "W 1500  L -600  lung"
    assert preset_name(587.0, -53.0) is None and preset_name(400.2, 39.8) == "Soft tissue"


def test_two_viewers_can_share_their_zoom(qtbot, viewer):
    other = SliceViewer("other")
    qtbot.addWidget(other)
    other.resize(400, 500)
    other.show()
    qtbot.waitExposed(other)
    keep_in_step = [True]
    viewer.link_zoom(other, lambda: keep_in_step[0])
    viewer.set_volume(phantom_volume(LESIONS))
    other.set_volume(phantom_volume(LESIONS, uid="1.2.12"))
    QApplication.processEvents()
    QTest.keyClick(viewer, Qt.Key.Key_Plus)
    assert other.mm_per_pixel() == pytest.approx(viewer.mm_per_pixel(), rel=1e-3)
    _wheel(other, down=False, modifiers=Qt.KeyboardModifier.ControlModifier)  # Ctrl+wheel: zoom in, about the cursor
    assert viewer.mm_per_pixel() == pytest.approx(other.mm_per_pixel(), rel=1e-3)
    keep_in_step[0] = False
    before = other.mm_per_pixel()
    QTest.keyClick(viewer, Qt.Key.Key_Minus)
    assert other.mm_per_pixel() == pytest.approx(before) and viewer.mm_per_pixel() > before * 1.1
