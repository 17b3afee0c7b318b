"""The pipeline's stages, each one step of a migration; they meet only in
sdconsole.engine.pipeline.
"""
