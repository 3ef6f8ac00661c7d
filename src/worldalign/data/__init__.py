"""Episodes on disk: the ``Episode``/``ClipBatch`` types, the LeRobot v3 reader and writer, clip sampling."""
