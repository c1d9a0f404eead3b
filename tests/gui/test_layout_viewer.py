"""The texts on the image never cover each other (a radiologist's 1366 x 768 laptop and a 2560 x 1440 screen at 150 and
200 %, where the viewers are 240-350 px wide): the orientation letter "A" sat on the window values, the cursor readout
on the letter "P" and on the 5 cm scale bar; and the scale bar's "5 cm" had no dark box on bright tissue."""

from __future__ import annotations

import itertools

import pytest
from PyQt6.QtCore import QPoint, QRect
from PyQt6.QtWidgets import QApplication

from tests.gui.conftest import LESIONS
from tests.gui.phantom import phantom_volume
from tests.gui.test_viewer_navigation import _luminance
from workstation.ui.viewer import SliceViewer

LONG_TITLE = "SUBJ-001 · week 12 (previous, nadir) · 2026-03-30"


@pytest.fixture
def viewer(qtbot):
    v = SliceViewer("current")
    qtbot.addWidget(v)
    v.resize(500, 500)
    v.show()
    qtbot.waitExposed(v)
    v.set_volume(phantom_volume(LESIONS))
    return v


def _boxes(v: SliceViewer) -> dict[str, QRect]:
    """Every text and mark drawn over the image, as placed on the view (pixels)."""
    boxes = {f"corner {n}": lab.geometry() for n, lab in v.corner.items() if lab.isVisible()}
    boxes |= {f"edge {n}": lab.geometry() for n, lab in v.edge.items() if lab.isVisible()}
    for name, item in (("scale bar", v.scale_bar.bar), ("5 cm", v.scale_bar.text)):
        boxes[name] = v.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    return boxes


def _hover_middle(v: SliceViewer) -> None:
    """The mouse over the middle of the image: the readout shows (bottom right)."""
    middle = QPoint(v.view.width() // 2, v.view.height() // 2)
    v.view.scene().sigMouseMoved.emit(v.view.mapToScene(middle))


@pytest.mark.parametrize("title", ["current", LONG_TITLE])
def test_no_text_on_the_image_covers_another_at_any_viewer_width(qtbot, viewer, title):
    v = viewer
    v.title = title
    v.redraw()
    for (width, height), zoom in itertools.product(
        [(240, 260), (260, 400), (300, 400), (330, 500), (400, 500), (480, 500), (700, 600), (1200, 700)], (1.0, 2.0)
    ):
        v.resize(width, height)
        QApplication.processEvents()
        v.zoom(zoom)  # a zoom widens the scale bar
        _hover_middle(v)
        QApplication.processEvents()
        boxes = _boxes(v)
        assert "HU" in v.corner["br"].text() and "corner br" in boxes
        assert {"edge top", "edge bottom", "corner tr", "corner bl"} <= set(boxes)
        for (a, ra), (b, rb) in itertools.combinations(boxes.items(), 2):
            if {a, b} == {"scale bar", "5 cm"}:
                continue  # the label sits on its bar
            assert not ra.intersects(rb), (width, height, zoom, a, ra, b, rb)
        for name, r in boxes.items():
            if name not in ("corner tl", "corner br"):  # a long title and the readout may be wider than the viewer
                assert v.view.rect().contains(r), (width, height, name, r)
        v.zoom(1.0 / zoom)


def test_the_readout_keeps_its_place_and_nothing_moves_with_the_mouse(viewer):
    """The scale bar and the letters stay where they are as the readout comes, changes length and goes."""
    v = viewer
    v.resize(300, 400)
    QApplication.processEvents()
    before = {n: r for n, r in _boxes(v).items() if n != "corner br"}
    readouts = set()
    for at in (QPoint(150, 200), QPoint(60, 120), QPoint(-50, -50)):  # the middle, a corner of the image, outside
        v.view.scene().sigMouseMoved.emit(v.view.mapToScene(at))
        readouts.add(v.corner["br"].text())
        assert {n: r for n, r in _boxes(v).items() if n != "corner br"} == before, at
    assert len(readouts) == 3 and "" in readouts


def test_the_scale_bar_label_has_the_dark_box_of_the_corner_texts(viewer):
    v = viewer
    volume = phantom_volume(LESIONS)
    volume.array[:] = 3000  # a white image under every text
    v.set_volume(volume)
    QApplication.processEvents()
    image = v.view.grab().toImage()
    label = v.view.mapFromScene(v.scale_bar.text.sceneBoundingRect()).boundingRect()
    assert v.scale_bar.text.isVisible() and v.view.rect().contains(label)
    assert _luminance(image, label.adjusted(1, 1, -1, -1)) < 120


def test_the_lengths_of_the_measurement_waiting_stay_in_view_and_clear_of_the_letters(qtbot, window):
    """The laptop radiologist's re-check: in the narrow follow-up viewer the short axis's length of a right-sided
    lesion sat under the "R" ("R3.1 mm", "0 R mm"), or was cut at the edge."""
    from tests.gui.test_reading_flow import _open

    w = window
    _open(qtbot, w)
    v = w.current_viewer
    v.view.resize(300, 300)
    w.fit_to_window()
    QApplication.processEvents()
    z = v.view_to_patient(0.0, 0.0)[2]
    letters = [lab.geometry() for lab in v.edge.values() if not lab.isHidden()]
    for x0, y0 in itertools.product((-50.0, -45.0, 38.0, 42.0), (-20.0, 0.0, 20.0)):  # right-sided, then left
        v.set_pending(((x0, y0, z), (x0 + 6.0, y0, z)), ((x0 + 3.0, y0 - 2.0, z), (x0 + 3.0, y0 + 2.0, z)))
        v.redraw()
        QApplication.processEvents()
        labels = [item for item in v._pending_items if hasattr(item, "textItem") and item.isVisible()]
        assert len(labels) == 2
        for label in labels:
            box = v.view.mapFromScene(label.sceneBoundingRect()).boundingRect()
            assert v.view.rect().contains(box), (x0, y0, label.textItem.toPlainText())
            assert not any(box.intersects(g) for g in letters), (x0, y0, label.textItem.toPlainText())
