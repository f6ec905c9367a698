/* empty: the gcc runtime has no blocks header; clang -fblocks provides the syntax */
