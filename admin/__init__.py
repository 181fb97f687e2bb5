"""The admin process: the JSON admin API and the ops console, on a private port."""
