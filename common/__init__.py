"""Pure-Python helpers that both environments import: the Rasa server (Python 3.10, channels/)
and the action server and backend (Python 3.11, actions/, demo_backend/). Standard library only,
so nothing here pins a dependency in either lock file."""
