"""Vocabulary parsing and the palette."""

import pytest

from mmpat.utils.vocabulary import class_palette, parse_vocabulary, primary_name, synonym_tuples


def test_string_vocabulary_with_synonyms():
    assert parse_vocabulary(' cat; dog, puppy ;sky ') == ['cat', 'dog, puppy', 'sky']
    assert parse_vocabulary(['cat', ['dog', ' puppy ']]) == ['cat', ['dog', 'puppy']]
    assert primary_name('dog, puppy') == 'dog' and primary_name(['dog', 'puppy']) == 'dog'


@pytest.mark.parametrize(
    'vocabulary, message',
    [
        ('', 'empty'),
        ([], 'empty'),
        ('cat;;dog', 'entry 1 is empty'),
        ('cat; dog; cat, kitty', "Duplicate class names .*: \\['cat'\\]"),
        ('Cat; cat', "Duplicate class names .*: \\['cat'\\]"),
        (['sofa', ['Sofa', 'couch']], "Duplicate class names .*: \\['sofa'\\]"),
        (['cat', ' , '], "entry 1 \\(','\\) has no names"),
        (['cat', [' ', '']], 'entry 1 has no names'),
    ],
)
def test_bad_vocabularies(vocabulary, message):
    with pytest.raises(ValueError, match=message):
        parse_vocabulary(vocabulary)


def test_entries_that_are_not_strings():
    for vocabulary in (['cat', 3], ['cat', ['dog', 3]], [None]):
        with pytest.raises(TypeError, match='give a string or a list of synonym strings'):
            parse_vocabulary(vocabulary)
        with pytest.raises(TypeError, match='give a string or a list of synonym strings'):
            synonym_tuples(vocabulary)


def test_synonym_tuples_of_every_form():
    expected = [('cat',), ('dog', 'puppy'), ('sky',)]
    assert synonym_tuples(' cat; dog, puppy ;sky ') == expected
    assert synonym_tuples(['cat', 'dog,puppy,', ['sky']]) == expected
    assert synonym_tuples(('cat', (' dog', 'puppy '), 'sky')) == expected
    assert synonym_tuples('bag; handbag, bag') == [('bag',), ('handbag', 'bag')]
    assert primary_name(', dog') == 'dog' and synonym_tuples([', dog']) == [('dog',)]
    # the checks (and messages) of parse_vocabulary
    with pytest.raises(ValueError, match="Duplicate class names .*: \\['cat'\\]"):
        synonym_tuples(['cat', 'Cat, kitty'])
    with pytest.raises(ValueError, match='vocabulary is empty'):
        synonym_tuples([])


def test_shared_synonyms_are_not_duplicates():
    # ADE-847 has them: a first name that is another class's synonym
    assert parse_vocabulary('dog, Dog, puppy; cat') == ['dog, Dog, puppy', 'cat']
    assert parse_vocabulary('bag; handbag, bag') == ['bag', 'handbag, bag']


def test_palette_is_deterministic_and_distinct():
    palette = class_palette(40)
    assert palette == class_palette(40) and len(set(palette)) == 40
