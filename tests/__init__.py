"""The test suite. Imported before tests/conftest.py and anything in forum/."""

import os

# Accounts are created and signed in to thousands of times: hash their passwords with argon2-cffi's profile for
# tests (forum/passwords.py). Server processes the tests start inherit it.
os.environ["LINLI_TEST_FAST_PASSWORD_HASHING"] = "1"
