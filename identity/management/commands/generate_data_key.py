from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print a new random key for PERSONAL_DATA_KEYS (Fernet, 32 bytes, base64)."

    def handle(self, *args, **options):
        self.stdout.write(Fernet.generate_key().decode())
