"""Sealing with AES-256-GCM: what opens, and what must not (a wrong key, other associated data, tampering)."""

import pytest

from actors.common import sealing


def test_a_sealed_value_opens_with_its_key_and_associated_data_and_hides_the_plaintext():
    key = sealing.new_key()
    sealed = sealing.seal(key, "k1", b"secret-id", b"the canary value")
    assert sealed["KeyID"] == "k1" and len(sealed["Nonce"]) == sealing.NONCE_BYTES
    assert b"the canary value" not in sealed["Ciphertext"]
    assert sealing.unseal(key, b"secret-id", sealed) == b"the canary value"


def test_two_seals_of_one_value_differ():
    key = sealing.new_key()
    assert sealing.seal(key, "k", b"", b"v")["Ciphertext"] != sealing.seal(key, "k", b"", b"v")["Ciphertext"]


def test_a_wrong_key_is_refused_in_one_line_that_quotes_nothing():
    sealed = sealing.seal(sealing.new_key(), "k", b"id", b"the canary value")
    with pytest.raises(sealing.SealError) as caught:
        sealing.unseal(sealing.new_key(), b"id", sealed)
    assert "\n" not in str(caught.value) and "canary" not in str(caught.value)


def test_other_associated_data_is_refused():
    key = sealing.new_key()
    sealed = sealing.seal(key, "k", b"secret-a", b"value")
    with pytest.raises(sealing.SealError):
        sealing.unseal(key, b"secret-b", sealed)


@pytest.mark.parametrize("field", ["Nonce", "Ciphertext"])
def test_a_flipped_bit_anywhere_is_refused(field):
    key = sealing.new_key()
    sealed = sealing.seal(key, "k", b"id", b"value")
    for position in range(len(sealed[field])):
        altered = bytearray(sealed[field])
        altered[position] ^= 0x01
        with pytest.raises(sealing.SealError):
            sealing.unseal(key, b"id", {**sealed, field: bytes(altered)})


@pytest.mark.parametrize("sealed", [{}, {"Nonce": b"x", "Ciphertext": b"y"}, {"Nonce": "n" * 12, "Ciphertext": b"y"},
                                    {"Nonce": b"n" * 12, "Ciphertext": None}, None])
def test_a_malformed_sealed_value_is_a_seal_error(sealed):
    with pytest.raises(sealing.SealError):
        sealing.unseal(sealing.new_key(), b"", sealed)


def test_derived_keys_depend_on_the_secret_and_the_purpose():
    secret = sealing.new_key()
    one = sealing.derive_key(secret, "wrap")
    assert len(one) == sealing.KEY_BYTES and one == sealing.derive_key(secret, "wrap")
    assert one != sealing.derive_key(secret, "other") and one != sealing.derive_key(sealing.new_key(), "wrap")
