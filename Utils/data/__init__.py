"""From a dataset folder to a checked leave-one-out split and its fixed evaluation candidates."""
