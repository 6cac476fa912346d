"""The stuck-job sweeper: a separate deployment (one replica) that fails jobs whose stage stopped moving."""
