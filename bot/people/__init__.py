"""The people who use the console: accounts, passwords and roles (issue 16 §1).

* `bot.people.roles`: what each role may do, checked in that one place;
* `bot.people.passwords`: argon2id hashes and the password rules (messages in pt-BR);
* `bot.people.accounts`: adding, listing, disabling people, resetting passwords, logging in.
"""
