"""Passwords typed at a terminal: `parley register` and `parley login` ask for them on a pseudo-terminal, without
echo, as a person at a terminal meets them."""

import json
import uuid

from conftest import PASSWORD, TerminalSession, User


def register_at_a_terminal(cluster, folder, again):
    """`parley register` for a new user on a pseudo-terminal: the password, then `again` for its confirmation."""
    username = f"tty{uuid.uuid4().hex[:8]}"
    user = User(cluster, str(folder), username)
    register = TerminalSession(user, "register", username, "--name", "Tty")
    register.expect("Password: ")
    register.type(PASSWORD + "\n")
    register.expect("Again: ")
    register.type(again + "\n")
    return user, register


def test_register_and_login_read_the_password_without_echo(cluster, tmp_path):
    user, register = register_at_a_terminal(cluster, tmp_path, PASSWORD)
    username = user.username
    assert register.exit_status() == 0, register.screen
    assert PASSWORD not in register.screen, f"the password was echoed:\n{register.screen}"
    user.ok("logout")

    login = TerminalSession(user, "login", username)
    login.expect("Password: ")
    login.type(PASSWORD + "\n")
    assert login.exit_status() == 0, login.screen
    assert PASSWORD not in login.screen, f"the password was echoed:\n{login.screen}"
    assert json.loads(user.ok("whoami", "--json"))["username"] == username


def test_passwords_that_differ_are_refused(cluster, tmp_path):
    user, register = register_at_a_terminal(cluster, tmp_path, "something else entirely")
    register.expect("the passwords differ")
    assert register.exit_status() == 1
    assert "not logged in" in user.run("whoami").stderr
