"""One module of handlers per tab of the app; `app.py` lays the tabs out and wires these in."""
