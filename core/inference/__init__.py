"""The inference stage: a photo to a mask (`Segmenter`, views, runtimes), mattes, touch-up marks,
rendering, output files, bulk prediction, export."""
