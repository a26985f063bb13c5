"""Stacks: compose files loaded, checked and translated into Shoal's specs, as ``docker stack deploy`` does
it on the client. Pure: file contents and the environment come in, specs and a plan of writes go out."""
