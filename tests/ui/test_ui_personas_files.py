"""The personas page's Import / export tab: uploads that import all or nothing, and export."""

from __future__ import annotations

from test_ui_personas_admin import (  # noqa: F401  (helpers and the autouse fixture)
    SUPPORT_LABEL,
    fresh_data_cache,
    labels,
    ok,
    open_admin,
    published,
    stored_spec,
    versions,
)


RETURNS_FILE = b"""\
format: support-chatbot/personas@1
personas:
  - key: returns
    name: Returns desk
    template: You handle returns for {{ shop }}.
    variables:
      - name: shop
        default: Acme
"""


def test_an_uploaded_file_imports_personas_and_a_second_import_changes_nothing(new_app, db):
    at = open_admin(new_app)
    at.file_uploader(key="persona-upload").upload("returns.yaml", RETURNS_FILE, "application/yaml")
    ok(at.run())

    ok(at.button(key="persona-import").click().run())

    assert "Imported: created returns." in [s.value for s in at.success]
    assert versions(db, "returns") == [(1, "admin", "Imported from returns.yaml")]
    assert published(db, "returns") == 1
    assert stored_spec(db, "returns", 1)["template"] == "You handle returns for {{ shop }}."
    # The picker above the import panel lists it straight away.
    assert labels(at) == [f"{SUPPORT_LABEL} (published v1)", "Returns desk (published v1)"]

    ok(at.button(key="persona-import").click().run())

    assert "Imported: unchanged: returns." in [s.value for s in at.success]
    assert len(versions(db, "returns")) == 1


def test_a_bad_file_is_refused_with_its_line_and_nothing_is_imported(new_app, db):
    at = open_admin(new_app)
    bad = RETURNS_FILE + b"  - name: Broken\n    template: 42\n"
    at.file_uploader(key="persona-upload").upload("two.yaml", bad, "application/yaml")
    ok(at.run())

    ok(at.button(key="persona-import").click().run())

    [error] = at.error
    assert error.value.startswith("Nothing was imported. line 10: ")
    assert "template" in error.value
    assert db("SELECT key FROM persona") == [("support",)]
    assert labels(at) == [f"{SUPPORT_LABEL} (published v1)"]


def test_export_offers_a_download_of_the_chosen_personas(new_app):
    # AppTest drops its media files after every run, so the downloaded bytes cannot be
    # read here; the file format itself is tested in tests/personas/test_personas_files.py.
    at = open_admin(new_app)
    files = at.tabs[3]

    assert files.multiselect(key="persona-export-keys").value == ["support"]
    assert files.download_button(key="persona-export").label == "Download"

    ok(at.multiselect(key="persona-export-keys").set_value([]).run())
    assert not at.tabs[3].download_button


# -- try it --------------------------------------------------------------------------------
