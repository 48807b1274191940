"""The people who use the console: accounts, passwords and roles (issue 16 §1).

- `roles`: what each role may do, checked in that one place;
- `passwords`: argon2id hashes and the password rules (messages in pt-BR);
- `accounts`: adding, listing, disabling people, resetting passwords, logging in;
- `login_limits`: failed logins limited per e-mail and per address (Redis, in memory while it is down).
"""
