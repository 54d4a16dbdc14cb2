"""The README stays true: the config table matches the schema; the commands are what CI runs."""

from pathlib import Path

from preflight.config_reference import BEGIN, END, reference_markdown

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_config_reference_is_generated_from_the_current_schema():
    section = README[README.index(BEGIN) : README.index(END) + len(END)]
    assert section == reference_markdown(), "run `python -m preflight config-reference` and paste it into README.md"


def test_the_two_fresh_machine_commands_are_what_ci_runs():
    assert "./up.sh dev" in README and "./test.sh" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "exec ./test.sh" in ci


def test_the_promtool_paragraph_states_the_installed_package():
    """The README's promtool numbers are the installed Debian package's (dpkg-query: Version, Installed-Size in KiB)."""
    import shutil
    import subprocess

    assert shutil.which("promtool"), "test.sh installs promtool (Debian package prometheus)"
    version, kib = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version} ${Installed-Size}", "prometheus"], capture_output=True, text=True, check=True
    ).stdout.split()
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    paragraph = next(block for block in readme.split("\n\n") if block.startswith("promtool: "))
    assert f"({version.split('+')[0]}, " in paragraph and f"{round(int(kib) / 1000)} MB installed" in paragraph
    assert "--no-install-recommends prometheus" in (Path(__file__).resolve().parent.parent / "test.sh").read_text()
