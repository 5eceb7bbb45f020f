"""The Personas page opened by its address in a real browser by people whose role may not
change personas: the page says so and shows nothing else. (AppTest cannot open a page the
navigation registers as a function, which is what a page one's role lacks becomes.)"""

from __future__ import annotations

import pytest
from browser_app import browser_page, running_app

NO_ACCESS = "You have no access to this page. Ask an admin if you need it."


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("e2e-personas")) as url:
        yield url


@pytest.mark.parametrize("user", ["agent", "qa"])
def test_the_personas_page_by_address_is_a_no_access_page(app_url, user):
    with browser_page(f"{app_url}/personas", user=user, ready=f"text={NO_ACCESS}") as page:
        main = page.locator("[data-testid=stMain]")
        assert main.locator("h1").inner_text().strip() == "Personas"
        # Nothing of the admin page: no persona picker, editor, tabs, uploader or prompt.
        for widget in ("stSelectbox", "stTextArea", "stTabs", "stFileUploader", "stButton"):
            assert main.locator(f"[data-testid={widget}]").count() == 0, widget
        assert "{{" not in main.inner_text()
        assert "/personas" in page.url


def test_an_admin_gets_the_page_itself(app_url):
    with browser_page(f"{app_url}/personas", user="admin", ready="text=System prompt template") as page:
        assert page.get_by_text(NO_ACCESS).count() == 0
