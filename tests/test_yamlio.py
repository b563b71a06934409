"""The YAML writers use libyaml's emitter for speed: for every shape stackdef writes it must
produce exactly what PyYAML's own (pure-Python) emitter produces."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stackdef import yamlio

# Printable text of the Basic Multilingual Plane: libyaml escapes control characters and code points
# beyond U+FFFF (emoji) as \x.. / \U........ where PyYAML writes them raw; both read back the same.
printable = st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0xFFFF)
text = st.one_of(
    st.text(alphabet=printable, max_size=40),
    st.text(alphabet=printable, max_size=200),
    st.sampled_from(["", "yes", "no", "on", "null", "~", "1.0", "0x1F", "- a", "a: b", "#x", "'q'", '"q"', "line\nline\n", "trailing\n", "éü", "x" * 300]),
)
scalar = st.one_of(text, st.integers(-(2**63), 2**63), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none())
# stackdef never writes an empty key (labels, names and config keys are non-empty); a key over 128
# bytes of UTF-8 is written `? key` by libyaml (it counts bytes, PyYAML counts characters).
key = text.filter(lambda k: bool(k) and len(k.encode()) <= 128)
doc = st.recursive(scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=4), max_leaves=30)


def _python(dumper_cls: type) -> type:
    class Py(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    for t, rep in dumper_cls.yaml_representers.items():
        Py.add_representer(t, rep)
    return Py


@settings(max_examples=300, deadline=None)
@given(docs=st.lists(st.dictionaries(key, doc, max_size=6), min_size=1, max_size=3))  # documents are mappings
def test_libyaml_emits_what_pyyaml_emits(docs: list[Any]) -> None:
    assert yamlio._BASE is yaml.CSafeDumper  # the fast path is what runs
    py = _python(yamlio._Dumper)
    opts = dict(sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    assert yamlio.dump(docs[0]) == yaml.dump(docs[0], Dumper=py, **opts)
    assert yamlio.dump_all(docs) == yaml.dump_all(docs, Dumper=py, explicit_start=True, **opts)
    plain = _python(yamlio._PlainDumper)
    assert yamlio.dump_plain(docs[0]) == yaml.dump(docs[0], Dumper=plain, sort_keys=False, default_flow_style=False, width=1000)
    assert yaml.safe_load(yamlio.dump(docs[0])) == docs[0]


def test_the_one_known_difference_still_reads_back_the_same() -> None:
    # libyaml writes an empty key as `'': x`, PyYAML as `? ''`, and ends a top-level scalar without
    # PyYAML's `...`; both mean the same data, and stackdef writes neither (documents are mappings).
    assert yamlio.dump({"": None}) == "'': null\n"
    assert yaml.safe_load(yamlio.dump({"": None})) == {"": None}
    # A key of 70 characters but 140 bytes: the two emitters write it differently; it reads back the same.
    long_key = "é" * 70
    assert yaml.safe_load(yamlio.dump({long_key: [1]})) == {long_key: [1]}


any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(d=st.dictionaries(any_text.filter(bool), st.one_of(any_text, st.integers(), st.none()), max_size=6))
def test_any_text_reads_back_the_same(d: dict[str, Any]) -> None:
    # Control characters may be escaped differently from PyYAML's emitter, never lost.
    assert yaml.safe_load(yamlio.dump(d)) == d
    assert yaml.safe_load(yamlio.dump_plain(d)) == d
