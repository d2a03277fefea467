import pytest

from keras_deconvnet.training import backends


def test_no_mixed_precision_is_float32():
    assert backends.precision_policy(False, capabilities=[(7, 0)]) == \
        "float32"


@pytest.mark.parametrize("capabilities, policy", [
    ([], "mixed_bfloat16"),  # CPU
    ([(9, 0)], "mixed_bfloat16"),  # Hopper
    ([(8, 0), (8, 6)], "mixed_bfloat16"),  # Ampere
    ([(7, 0)], "mixed_float16"),  # Volta: no bf16 tensor cores
    ([(9, 0), (7, 5)], "mixed_float16"),  # the weakest GPU decides
    ([None], "mixed_float16"),  # unknown: the safe choice
])
def test_mixed_precision_follows_the_hardware(capabilities, policy):
    assert backends.precision_policy(True, capabilities) == policy


def test_this_machine_reports_its_gpus():
    capabilities = backends.gpu_compute_capabilities()
    assert all(c is None or (len(c) == 2 and c >= (3, 0))
               for c in capabilities)
    if not backends.has_gpu():
        assert capabilities == []
        assert backends.precision_policy(True) == "mixed_bfloat16"
