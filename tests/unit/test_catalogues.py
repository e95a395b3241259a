"""The gettext catalogues: every id in Dutch and English, the same placeholders, in step with the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from callbacks.models import PromiseState
from callbacks.rebalance import NO_SLOT_WITH_ROOM
from callbacks.replanning import ReplanCause
from console.texts import DOMAIN_ERRORS, PROMISE_REASONS, RULE_PHRASES, SHOWN_FROM_DATA, explained, promise_reason, tr
from routing.models import AgentState, ContactChannel
from routing.phrases import phrase
from routing.rules import WEEKDAY_NAMES
from terugbel.catalogues import ROOT, SOURCES, extract, po_path, template_path
from terugbel.i18n import (
    CALLER_DOMAIN,
    CONSOLE_DOMAIN,
    LANGUAGES,
    LOCALE_DIR,
    CatalogueError,
    require_catalogues,
    translations,
)

DOMAINS = tuple(SOURCES)
RUN = "run `make messages` (python -m terugbel.catalogues), then fill in the new msgstr lines"
_PLACEHOLDER = re.compile(r"{(\w*)}")


def _read(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def _ids(catalogue: Catalog) -> set[str]:
    return {str(message.id) for message in catalogue if message.id}


@pytest.fixture(scope="module")
def fresh_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Catalog]:
    """The templates as `pybabel extract` writes them from the code as it is now."""
    written = extract(tmp_path_factory.mktemp("pot"))
    return {domain: _read(path) for domain, path in written.items()}


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_templates_are_in_step_with_the_code(domain: str, fresh_templates: dict[str, Catalog]) -> None:
    committed = _ids(_read(template_path(domain)))
    fresh = _ids(fresh_templates[domain])
    assert fresh == committed, (
        f"{template_path(domain).name} is behind the code: new {sorted(fresh - committed)}, "
        f"gone {sorted(committed - fresh)}; {RUN}"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_message_id_is_translated(domain: str, lang: str) -> None:
    catalogue = _read(po_path(domain, lang))
    assert _ids(catalogue) == _ids(_read(template_path(domain))), f"{po_path(domain, lang)}: {RUN}"
    untranslated = sorted(str(m.id) for m in catalogue if m.id and not str(m.string).strip())
    assert untranslated == [], f"{po_path(domain, lang)}: no {lang} words yet for {untranslated}"
    fuzzy = sorted(str(m.id) for m in catalogue if m.id and m.fuzzy)
    assert fuzzy == [], f"{po_path(domain, lang)}: check these and remove their `#, fuzzy` line: {fuzzy}"


@pytest.mark.parametrize("domain", DOMAINS)
def test_placeholders_are_the_same_in_both_languages(domain: str) -> None:
    strings = {lang: {str(m.id): str(m.string) for m in _read(po_path(domain, lang)) if m.id} for lang in LANGUAGES}
    for message_id in strings["nl"]:
        expected = set(_PLACEHOLDER.findall(strings["en"][message_id]))
        if domain == CONSOLE_DOMAIN:
            assert set(_PLACEHOLDER.findall(message_id)) == expected, message_id
        assert set(_PLACEHOLDER.findall(strings["nl"][message_id])) == expected, message_id


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("domain", DOMAINS)
def test_the_compiled_catalogues_hold_what_the_po_files_say(domain: str, lang: str) -> None:
    written = {str(m.id): str(m.string) for m in _read(po_path(domain, lang)) if m.id and m.string}
    compiled = po_path(domain, lang).with_suffix(".mo")
    with compiled.open("rb") as source:
        read = {str(m.id): str(m.string) for m in read_mo(source) if m.id}
    assert read == written, f"{compiled} is older than its .po: run `make messages` to compile it"


def test_every_caller_key_the_code_names_is_marked_for_extraction(fresh_templates: dict[str, Catalog]) -> None:
    """A key written as a bare string would be dropped from the catalogue by the next `make messages`."""
    keys = _ids(_read(template_path(CALLER_DOMAIN)))
    extracted = _ids(fresh_templates[CALLER_DOMAIN])
    named = set()
    for package in SOURCES[CALLER_DOMAIN]:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and node.value in keys:
                    named.add(node.value)
    assert len(named) > 50
    assert sorted(named - extracted) == [], "wrap these in message_id(...) where they are written"


def test_every_sentence_a_template_or_view_shows_is_in_the_console_catalogue() -> None:
    literal = re.compile(r"""\btr\(\s*(["'])((?:(?!\1).)+)\1""")
    console = ROOT / "console"
    used = set()
    for path in [*console.glob("templates/*.html"), *console.glob("*.py")]:
        used |= {match.group(2) for match in literal.finditer(path.read_text())}
    assert len(used) > 50
    assert sorted(used - set(translations(CONSOLE_DOMAIN, "nl"))) == []


def test_the_console_shows_every_state_channel_and_replan_cause_in_both_languages() -> None:
    shown = {state.value for state in [*PromiseState, *AgentState, *ContactChannel, *ReplanCause]}
    shown.add(NO_SLOT_WITH_ROOM)
    assert shown <= set(SHOWN_FROM_DATA)
    for lang in LANGUAGES:
        assert shown <= set(translations(CONSOLE_DOMAIN, lang))
    assert tr("on_call", "nl") == "in gesprek"
    assert tr(ReplanCause.OPENING_HOURS, "nl") == "openingstijden gewijzigd"


def _validation_messages(module: Path) -> set[str]:
    """The literal messages a module puts in `errors[...] = "..."`, `FieldErrors({...: "..."})` or
    `ChangeRefused(field, "...")`."""
    messages: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            target = node.targets[0].value
            if isinstance(target, ast.Name) and target.id == "errors" and isinstance(node.value, ast.Constant):
                messages.add(str(node.value.value))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ChangeRefused" and len(node.args) == 2:
            messages |= {str(node.args[1].value)} if isinstance(node.args[1], ast.Constant) else set()
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "FieldErrors" and node.args:
            given = node.args[0]
            if isinstance(given, ast.Dict):
                messages |= {str(value.value) for value in given.values if isinstance(value, ast.Constant)}
    return messages


def test_the_console_shows_the_domains_validation_messages_in_both_languages() -> None:
    said = _validation_messages(ROOT / "routing/queue_settings.py")
    said |= _validation_messages(ROOT / "callbacks/staffing.py")
    said |= _validation_messages(ROOT / "routing/agents.py")
    assert len(said) > 10 and said <= set(DOMAIN_ERRORS), sorted(said - set(DOMAIN_ERRORS))
    assert tr("that day is already closed", "nl") == "die dag is al gesloten"


def _phrase_templates(module: Path) -> set[str]:
    """Every text a module gives `phrase(...)` as its template (both sides of an `a if c else b`)."""
    templates: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "phrase":
            assert node.args, f"{module.name}: phrase() without a template"
            found = {
                c.value for c in ast.walk(node.args[0]) if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
            if not found:  # a template chosen from data: the weekday names, checked below
                assert ast.unparse(node.args[0]).startswith("WEEKDAY_NAMES["), ast.unparse(node)
            templates |= found
    return templates


def test_every_rule_explanation_template_is_in_the_console_catalogue() -> None:
    used = _phrase_templates(ROOT / "routing/decision.py") | _phrase_templates(ROOT / "routing/dry_run.py")
    used |= _phrase_templates(ROOT / "routing/rule_validation.py")
    used |= set(WEEKDAY_NAMES)
    assert len(used) > 40
    assert sorted(used - set(RULE_PHRASES)) == [], "list these in console.texts.RULE_PHRASES"
    for lang in LANGUAGES:
        assert sorted(used - set(translations(CONSOLE_DOMAIN, lang))) == [], RUN


def test_an_explanation_reads_in_dutch_with_its_values_as_they_are() -> None:
    said = phrase(
        "{where} (built-in): {why}",
        where=phrase("→ {queue}", queue="facturen"),
        why=phrase("repeat contact ({nth} in {days} days)", nth=phrase("{n}nd", n=2), days=7),
    )
    other = phrase("priority {priority} (built-in): {reasons}", priority=2, reasons=(phrase("VIP"), phrase("stop")))
    assert str(said) == "→ facturen (built-in): repeat contact (2nd in 7 days)"
    # Outside a request the console speaks its default language, Dutch.
    assert (
        explained([said, other])
        == "→ facturen (ingebouwd): herhaalcontact (2e in 7 dagen); prioriteit 2 (ingebouwd): VIP, stop"
    )


def _shape(text: str) -> str:
    return re.sub(r"{\w*}", "{}", text)


def _reason_shapes(node: ast.expr | None) -> set[str]:
    """The reason an expression writes, "{}" for each detail; a variable names none of its own."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.JoinedStr):
        parts = [str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values]
        return {"".join(parts)}
    if isinstance(node, ast.BoolOp | ast.IfExp):  # `cause or "booked again"`
        return set().union(
            *(_reason_shapes(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
        )
    return set()


def _written_reasons(module: Path) -> set[str]:
    """What a module gives as a promise's reason: GiveUp(...), give_up(..., reason), cancel_promise(..., cause),
    a cause= argument or default, and `x.reason = ...`."""
    reasons: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None)
            position = {"GiveUp": 0, "give_up": 4, "cancel_promise": 3}.get(name or "")
            if position is not None and len(node.args) > position:
                reasons |= _reason_shapes(node.args[position])
            reasons |= set().union(*(_reason_shapes(k.value) for k in node.keywords if k.arg == "cause"))
        if isinstance(node, ast.arguments):
            named = [*node.posonlyargs, *node.args][-len(node.defaults) :] if node.defaults else []
            pairs = [*zip(named, node.defaults, strict=True), *zip(node.kwonlyargs, node.kw_defaults, strict=True)]
            reasons |= set().union(*(_reason_shapes(d) for a, d in pairs if a.arg == "cause"))
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Attribute)
            and node.targets[0].attr == "reason"
        ):
            value = node.value.value if isinstance(node.value, ast.Subscript) else node.value  # `...[:200]`
            reasons |= _reason_shapes(value)
    return reasons


def test_the_board_says_every_promise_reason_the_code_writes_in_both_languages() -> None:
    written: set[str] = set()
    for package in ("callbacks", "ivr"):
        for module in (ROOT / package).glob("*.py"):
            written |= _written_reasons(module)
    assert len(written) > 12
    known = {_shape(reason) for reason in [*PROMISE_REASONS, *SHOWN_FROM_DATA]}
    assert sorted(written - known) == [], "list these in console.texts.PROMISE_REASONS"
    for lang in LANGUAGES:
        assert set(PROMISE_REASONS) <= set(translations(CONSOLE_DOMAIN, lang)), RUN


def test_a_promise_reason_reads_in_dutch_with_its_details() -> None:
    assert promise_reason("3 attempts without reaching the caller (last: no_answer)") == (
        "3 pogingen zonder de beller te bereiken (laatste: geen gehoor)"
    )
    assert promise_reason("invalid number: the number is unallocated") == "ongeldig nummer: the number is unallocated"
    assert promise_reason("cancelled via API (crm)") == "afgezegd via de API (crm)"
    assert promise_reason("no agent free before the end of the window") == (
        "geen medewerker vrij voor het einde van het tijdvak"
    )
    assert promise_reason(NO_SLOT_WITH_ROOM).startswith("capaciteit")
    assert promise_reason("a reason someone typed") == "a reason someone typed"


def test_english_is_the_console_id_and_dutch_its_translation() -> None:
    assert tr("My next callbacks", "en") == "My next callbacks"
    assert tr("My next callbacks", "nl") == "Mijn volgende terugbelafspraken"


def test_without_compiled_catalogues_the_app_stops_saying_how_to_compile(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"caller\.mo is not compiled: run `make messages`"):
        require_catalogues(tmp_path)


def test_a_caller_key_missing_in_one_language_stops_the_app(tmp_path: Path) -> None:
    for lang in LANGUAGES:
        catalogue = Catalog(locale=lang)
        catalogue.add("ivr_welcome", "Welkom." if lang == "nl" else "Welcome.")
        if lang == "nl":
            catalogue.add("ivr_goodbye", "Tot ziens.")
        folder = tmp_path / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with (folder / f"{CALLER_DOMAIN}.mo").open("wb") as target:
            write_mo(target, catalogue)
    with pytest.raises(CatalogueError, match="ivr_goodbye"):
        require_catalogues(tmp_path)


def test_the_shipped_catalogues_are_complete() -> None:
    require_catalogues(LOCALE_DIR)
