from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from identity import crypto
from identity.models import App, Person
from identity.phones import phone_index
from identity.selectors import find_by_phone
from identity.services.app_secrets import set_app_credentials
from identity.services.phone import bind_phone
from identity.services.resolve import resolve_identity
from platforms.wechat.models import WeChatSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_under_old_key(settings, miniprogram, actor):
    old = settings.PERSONAL_DATA_KEYS[0]
    persons = []
    for number in range(25):
        person = resolve_identity(app=miniprogram, openid=f"oRot{number}", actor=actor).person
        persons.append(bind_phone(person=person, phone=f"1380000{number:04d}", actor=actor))
    set_app_credentials(app=miniprogram, secret="s3cret-value", aes_key="k" * 43, actor=actor)
    identity = persons[0].identities.get()
    WeChatSession.objects.create(identity=identity, session_key_encrypted=crypto.encrypt("sk"))
    return old, persons


def test_rotation_re_encrypts_everything_and_keeps_it_readable(settings, data_under_old_key):
    old, persons = data_under_old_key
    new = Fernet.generate_key().decode()
    settings.PERSONAL_DATA_KEYS = [new, old]  # the new key encrypts, the old one still decrypts

    with pytest.raises(CommandError):
        call_command("rotate_personal_data_key", "--check", stdout=StringIO())
    out = StringIO()
    call_command("rotate_personal_data_key", "--batch-size", "7", stdout=out)
    assert "Re-encrypted 28 values" in out.getvalue()  # 25 phones, secret, AES key, session key
    call_command("rotate_personal_data_key", "--check", stdout=StringIO())

    settings.PERSONAL_DATA_KEYS = [new]  # the old key is gone: everything still reads
    assert Person.objects.get(pk=persons[3].pk).phone_e164 == "+8613800000003"
    assert App.objects.get(appid="wx1111111111111111").get_secret() == "s3cret-value"
    assert WeChatSession.objects.get().session_key == "sk"
    assert find_by_phone("+8613800000003").pk == persons[3].pk  # the blind index never rotates
    assert phone_index("+8613800000003") == Person.objects.get(pk=persons[3].pk).phone_index


def test_an_interrupted_rotation_resumes(settings, data_under_old_key):
    old, _ = data_under_old_key
    settings.PERSONAL_DATA_KEYS = [Fernet.generate_key().decode(), old]
    first = Person.objects.filter(phone_encrypted__isnull=False).order_by("pk").first()
    Person.objects.filter(pk=first.pk).update(
        phone_encrypted=crypto.reencrypt(first.phone_encrypted)
    )
    out = StringIO()
    call_command("rotate_personal_data_key", stdout=out)
    assert "Re-encrypted 27 values" in out.getvalue()  # the one already done is skipped


def test_a_value_changed_meanwhile_is_not_overwritten(settings, data_under_old_key, actor):
    from identity.services.key_rotation import _rewrite

    old, persons = data_under_old_key
    settings.PERSONAL_DATA_KEYS = [Fernet.generate_key().decode(), old]
    person = Person.objects.get(pk=persons[0].pk)
    stale_token = person.phone_encrypted
    bind_phone(person=person, phone="13900000000", actor=actor)
    assert _rewrite(Person, "phone_encrypted", [(person.pk, stale_token)]) == 0
    assert Person.objects.get(pk=person.pk).phone_e164 == "+8613900000000"


def test_generate_data_key_prints_a_fernet_key():
    out = StringIO()
    call_command("generate_data_key", stdout=out)
    Fernet(out.getvalue().strip())
