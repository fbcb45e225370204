"""drills/cli/heap.py: the run's long-lived heap is kept out of the collector's walks, and
given back at the end of the block."""

import gc
import threading
import weakref

from drills.cli import heap


def _frozen(objects: list) -> bool:
    """Every one of ``objects`` is in the permanent generation: tracked by the collector, yet in
    none of the generations it walks (``gc.get_objects()`` lists generations 0-2 only). Asked of
    the objects themselves, not of ``gc.get_freeze_count()``, which other threads' frees move."""
    assert all(gc.is_tracked(o) for o in objects)
    wanted = {id(o) for o in objects}
    return not any(id(o) in wanted for o in gc.get_objects())


def test_spared_objects_are_frozen_until_the_block_ends():
    assert gc.get_freeze_count() == 0
    with heap.long_lived() as spare:
        built = [[n] for n in range(1000)]           # container objects the collector tracks
        assert not _frozen(built)
        spare()
        assert _frozen(built)
    assert gc.get_freeze_count() == 0
    assert not _frozen(built)


def test_the_heap_is_given_back_when_the_block_fails():
    try:
        with heap.long_lived():
            assert gc.get_freeze_count() > 0
            raise RuntimeError("the run broke")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_spared_inside_is_collected_after_the_block():
    class Node:
        pass

    with heap.long_lived() as spare:
        node = Node()
        node.self = node                              # a cycle only the collector frees
        alive = weakref.ref(node)
        spare()
        del node
        gc.collect()
        assert alive() is not None                    # frozen: out of the collector's reach
    gc.collect()
    assert alive() is None                            # given back: collected


def test_what_survives_a_full_collection_inside_the_block_is_frozen():
    with heap.long_lived():
        survivors = [[n] for n in range(1000)]
        assert not _frozen(survivors)
        gc.collect()                                  # a full collection: survivors are long-lived
        assert _frozen(survivors)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0                 # outside the block collections freeze nothing
    assert not _frozen(survivors)


def test_nested_blocks_register_the_collector_hook_once():
    with heap.long_lived():
        with heap.long_lived():
            assert gc.callbacks.count(heap._freeze_survivors) == 1
        assert gc.callbacks.count(heap._freeze_survivors) == 1
    assert heap._freeze_survivors not in gc.callbacks


def test_an_inner_block_leaves_the_outer_heap_frozen():
    with heap.long_lived() as spare:
        built = [[n] for n in range(100)]
        spare()
        with heap.long_lived():
            pass
        assert _frozen(built)                         # the inner block did not give the outer heap back
        assert gc.callbacks.count(heap._freeze_survivors) == 1
    assert heap._freeze_survivors not in gc.callbacks
    assert not _frozen(built)


def test_blocks_in_other_threads_give_the_heap_back_only_when_the_last_one_ends():
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with heap.long_lived():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert entered.wait(10)
        with heap.long_lived() as spare:
            built = [[n] for n in range(100)]
            spare()
        assert _frozen(built)                         # the other thread's block is still open
        assert gc.callbacks.count(heap._freeze_survivors) == 1
    finally:
        leave.set()
        thread.join(10)
    assert heap._freeze_survivors not in gc.callbacks
    assert not _frozen(built)
