"""Client addresses behind proxies, and CIDR lists from settings."""

import pytest

from chatbot.auth.network import Networks, client_address, normal_address

TRUSTED = Networks.parse("10.0.0.0/8, 127.0.0.1", setting="CHATBOT_TRUSTED_PROXIES")


def test_addresses_are_normalised():
    assert normal_address("::ffff:192.0.2.7") == "192.0.2.7"
    assert normal_address("[2001:db8::1]:443") == "2001:db8::1"
    assert normal_address("192.0.2.7:5000") == "192.0.2.7"
    assert normal_address("not-an-ip") == ""


def test_a_cidr_list_names_the_setting_and_the_bad_entry():
    with pytest.raises(ValueError, match=r"CHATBOT_ALLOWED_NETWORKS: 'ten' is not"):
        Networks.parse("10.0.0.0/8 ten", setting="CHATBOT_ALLOWED_NETWORKS")
    nets = Networks.parse("192.168.0.0/16,2001:db8::/32", setting="X")
    assert "192.168.4.4" in nets and "2001:db8::9" in nets and "10.0.0.1" not in nets
    assert "::ffff:192.168.1.1" in nets  # an IPv4 client on a dual-stack socket


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy():
    assert client_address("203.0.113.9", ["198.51.100.1"], TRUSTED) == "203.0.113.9"
    assert client_address("10.0.0.2", ["198.51.100.1"], TRUSTED) == "198.51.100.1"


def test_forwarded_for_is_read_from_the_right_and_a_client_cannot_choose_its_address():
    # The client wrote "1.2.3.4" itself; our proxy appended the address it saw.
    assert client_address("10.0.0.2", ["1.2.3.4, 198.51.100.7"], TRUSTED) == "198.51.100.7"
    # Two trusted proxies in a row: both skipped.
    assert client_address("127.0.0.1", ["198.51.100.7, 10.1.1.1"], TRUSTED) == "198.51.100.7"
    # Headers repeated are one list; garbage stops at the last hop we could trust.
    assert client_address("10.0.0.2", ["198.51.100.7", "10.3.3.3"], TRUSTED) == "198.51.100.7"
    assert client_address("10.0.0.2", ["<script>"], TRUSTED) == "10.0.0.2"
