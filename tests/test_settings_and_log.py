from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rmds.exceptions import ConfigurationError, RmdsError
from rmds.log import PersonalDataFilter, get_logger, mask_personal_data
from rmds.settings import Settings, get_setting


def test_precedence_explicit_env_default() -> None:
    env = {"RMDS_READ_BATCH_ROWS": "1000"}
    assert get_setting("read_batch_rows", None, env) == 1000
    assert get_setting("read_batch_rows", 5, env) == 5
    assert get_setting("read_batch_rows", None, {}) == 65_536
    assert get_setting("reference_dir", None, {"RMDS_REFERENCE_DIR": "/x"}) == Path("/x")


def test_bad_values_raise_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        get_setting("read_batch_rows", None, {"RMDS_READ_BATCH_ROWS": "many"})
    assert "RMDS_READ_BATCH_ROWS" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RmdsError)
    with pytest.raises(ConfigurationError):
        get_setting("nope")
    with pytest.raises(ConfigurationError):
        Settings.resolve({"log_level": "LOUD"})


def test_mask_personal_data() -> None:
    text = ("paciente cns 898 0012 3456 7890 cpf 529.982.247-25 e 52998224725 "
            "cep 30130-010 lote 2024")
    masked = mask_personal_data(text)
    for secret in ("898 0012", "529.982", "52998224725", "30130-010"):
        assert secret not in masked
    assert "[CNS]" in masked and "[CPF]" in masked and "[CEP]" in masked
    assert "lote 2024" in masked


def test_filter_masks_log_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = get_logger("test")
    logger.addFilter(PersonalDataFilter())
    with caplog.at_level(logging.INFO, logger="rmds.test"):
        logger.info("registro com CNS %s", "700000000000005")
    assert "700000000000005" not in caplog.text
    assert "[CNS]" in caplog.text
