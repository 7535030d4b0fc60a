"""The video stage: clips read and checked (`clip`), masks steadied from frame to frame (`steady`),
every frame segmented through the photos' own path (`segment_clip`), videos written (`encode`)."""
