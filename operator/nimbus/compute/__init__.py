"""Nova's part: flavors, keypairs, server groups and servers."""
