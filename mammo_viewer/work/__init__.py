"""Work off the UI thread: the worker threads, the decoder process and its loader, and the
engine that runs the model image by image. Imports only the pictures and the memory policy."""
