"""The benchmark data set's identifiers, derived from a person's index.

The seeder and the load scripts agree on them without a shared file: person `i` has openid
`om` + 26 hex digits of `i` in the mini-program, `os...` in the service account (some), `oh...`
in the H5 app (some) and unionid `ou...` (most).
"""

MINI_APPID = "wxbe0c000000000001"
SERVICE_APPID = "wxbe0c000000000002"
H5_APPID = "wxbe0c000000000003"


def openid(prefix: str, index: int) -> str:
    return f"{prefix}{index:026x}"


def mini_openid(index: int) -> str:
    return openid("om", index)


def service_openid(index: int) -> str:
    return openid("os", index)


def h5_openid(index: int) -> str:
    return openid("oh", index)


def unionid(index: int) -> str:
    return openid("ou", index)


def has_service(index: int) -> bool:
    return index % 10 < 3  # 30 %


def has_h5(index: int) -> bool:
    return index % 10 in (3, 4)  # 20 %


def has_unionid(index: int) -> bool:
    return index % 5 != 0  # 80 %


def has_phone(index: int) -> bool:
    return index % 5 == 1  # 20 %


def phone(index: int) -> str:
    return f"+86138{index % 100_000_000:08d}"
