"""mailkeys: the credential and authorization service of an email platform."""
