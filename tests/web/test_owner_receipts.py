"""The owner's receipts: preview decoded from the printed bytes, reprint without the drawer."""

from __future__ import annotations

import io
import re

import pytest
from flask.testing import FlaskClient
from PIL import Image

from agent.drivers.escpos_decoder import decode, drawer_kicks

PASSWORD = "مالک-امن-۱۴۰۵"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def owner(terminal) -> tuple[FlaskClient, str]:  # type: ignore[no-untyped-def]
    """Return an owner's signed-in client after one printed sale, and the receipt's job id."""
    from agent.web.app import create_app, set_owner_password

    set_owner_password(terminal, PASSWORD)
    member = terminal.flow.enrol("09125554433", "علی محمدی", True)
    printed = terminal.print_receipt(terminal.flow.sale(member.id, 2_500_000), kick_drawer=True)
    client = create_app(terminal, {"TESTING": True}).test_client()
    token = CSRF_FIELD.search(client.get("/login").get_data(as_text=True))
    assert token
    client.post("/login", data={"password": PASSWORD, "csrf": token.group(1)})
    return client, printed.job_id


def test_receipts_need_the_owner(terminal) -> None:  # type: ignore[no-untyped-def]
    """Without the owner's login the receipts and their images are not shown."""
    from agent.web.app import create_app

    client = create_app(terminal, {"TESTING": True}).test_client()
    for path in ("/receipts/", "/receipts/x", "/receipts/x.png"):
        reply = client.get(path)
        assert reply.status_code == 302 and reply.headers["Location"].endswith("/login")


def test_preview_is_the_printed_image(terminal, owner) -> None:  # type: ignore[no-untyped-def]
    """The list links the receipt; its PNG is the raster that went to the printer."""
    client, job_id = owner
    listing = client.get("/receipts/").get_data(as_text=True)
    assert f"/receipts/{job_id}" in listing and "چاپ شده" in listing
    reply = client.get(f"/receipts/{job_id}.png")
    assert reply.status_code == 200 and reply.mimetype == "image/png"
    picture = Image.open(io.BytesIO(reply.data))
    assert picture.width == terminal.printer_profile.dots
    assert picture.height > 200
    assert picture.convert("L").getextrema() == (0, 255)  # ink on paper, not a blank
    assert client.get("/receipts/nope.png").status_code == 404


def test_reprint_sends_the_receipt_again_without_the_drawer(terminal, owner) -> None:  # type: ignore[no-untyped-def]
    """Reprint needs CSRF, prints the same image again and leaves the drawer shut."""
    client, job_id = owner
    first = terminal.printer.jobs[-1]
    assert drawer_kicks(decode(first))
    assert client.post(f"/receipts/{job_id}/reprint").status_code == 400
    assert len(terminal.printer.jobs) == 1
    page = client.get(f"/receipts/{job_id}").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token
    reply = client.post(f"/receipts/{job_id}/reprint", data={"csrf": token.group(1)})
    assert reply.status_code == 302 and "reprinted=1" in reply.headers["Location"]
    assert len(terminal.printer.jobs) == 2
    again = terminal.printer.jobs[-1]
    assert not drawer_kicks(decode(again))
    from agent.drivers.escpos_decoder import receipt_image

    first_image, second_image = receipt_image(first), receipt_image(again)
    assert first_image is not None and second_image is not None
    assert first_image.tobytes() == second_image.tobytes()
