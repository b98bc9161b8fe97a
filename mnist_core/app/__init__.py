"""What serves the Gradio app: the job manager, the training process, the run registry, charts and
one module of handlers per tab. The ML library (`mnist_core.*`) never imports from here."""
