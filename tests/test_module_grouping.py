import pytest

from theseus_tf import group_modules, select_successor_layers


def test_equal_modules():
  assert group_modules(12, 6) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
  assert group_modules(6, 3) == [[0, 1], [2, 3], [4, 5]]
  assert group_modules(4, 1) == [[0, 1, 2, 3]]


def test_uneven_ratio_with_explicit_sizes_or_indices():
  assert group_modules(12, grouping=[3, 3, 2, 2, 2]) == [
      [0, 1, 2], [3, 4, 5], [6, 7], [8, 9], [10, 11]]
  assert group_modules(5, num_modules=2, grouping=[[0, 1, 2], [3, 4]]) == [
      [0, 1, 2], [3, 4]]


def test_ratio_that_does_not_divide_suggests_a_grouping():
  with pytest.raises(ValueError, match=r"12 layers do not divide into 5.*\[3, 3, 2, 2, 2\]"):
    group_modules(12, 5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_layers=4, grouping=[2, 1]), "sum to the 4"),
    (dict(num_layers=4, grouping=[[0, 2], [1, 3]]), "consecutive"),
    (dict(num_layers=4, grouping=[[0, 1], [], [2, 3]]), "non-empty"),
    (dict(num_layers=4, grouping=[]), "empty"),
    (dict(num_layers=4, num_modules=3, grouping=[2, 2]), "agree"),
    (dict(num_layers=4, num_modules=5), "at least one layer"),
    (dict(num_layers=4, num_modules=0), "positive"),
    (dict(num_layers=0, num_modules=1), "positive"),
])
def test_bad_groupings(kwargs, message):
  with pytest.raises(ValueError, match=message):
    group_modules(**kwargs)


def test_successor_initialisation_choices():
  assert select_successor_layers(12, 6) == [0, 1, 2, 3, 4, 5]
  assert select_successor_layers(12, 6, "top") == [6, 7, 8, 9, 10, 11]
  assert select_successor_layers(12, 6, "every_k") == [1, 3, 5, 7, 9, 11]
  assert select_successor_layers(12, 4, "every_k") == [2, 5, 8, 11]
  assert select_successor_layers(6, 3, [0, 2, 5]) == [0, 2, 5]


@pytest.mark.parametrize("args, message", [
    ((12, 5, "every_k"), "multiple"),
    ((12, 6, "middle"), "Unknown successor init"),
    ((6, 3, [0, 1]), "must list 3"),
    ((6, 3, [0, 1, 6]), "must list 3"),
    ((6, 7), "1 <= successors"),
])
def test_bad_successor_initialisation(args, message):
  with pytest.raises(ValueError, match=message):
    select_successor_layers(*args)


def test_one_layer_modules_warn_that_nothing_is_compressed():
  with pytest.warns(UserWarning, match="nothing is compressed"):
    group_modules(4, num_modules=4)
  with pytest.warns(UserWarning, match="nothing is compressed"):
    group_modules(3, grouping=[1, 1, 1])
