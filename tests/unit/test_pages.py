"""transport/pages.py: pages bounded in bytes and, when asked, in items."""

from transport.pages import encoded_size, pages


def test_no_items_make_no_page():
    assert list(pages([], 100)) == []


def test_pages_keep_order_and_stay_within_the_byte_bound():
    items = [b"x" * 30 for _ in range(10)]
    result = list(pages(items, 100))
    assert [item for page in result for item in page] == items
    assert all(sum(encoded_size(item) for item in page) <= 100 for page in result)
    assert len(result) == 4  # three items of 32 encoded bytes fit in 100


def test_an_item_larger_than_the_bound_makes_a_page_alone():
    big, small = b"y" * 500, b"z"
    assert list(pages([small, big, small], 100)) == [[small], [big], [small]]



def test_max_items_bounds_each_page_too():
    result = list(pages(range(2500), 1 << 20, max_items=1000))
    assert [len(page) for page in result] == [1000, 1000, 500]
    assert [item for page in result for item in page] == list(range(2500))


def test_size_of_weighs_items_by_what_they_cost_not_their_encoding():
    weights = {"small-patch-of-a-big-task": 900, "tiny": 10}
    result = list(pages(["tiny", "small-patch-of-a-big-task", "small-patch-of-a-big-task", "tiny"], 1000,
                        size_of=weights.__getitem__))
    assert result == [["tiny", "small-patch-of-a-big-task"], ["small-patch-of-a-big-task", "tiny"]]
