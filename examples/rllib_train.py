"""Train RLlib (new API stack) on the multi-agent arena: one policy per risk profile; PPO, APPO or SAC.

Every agent of the arena is mapped to the policy of its risk profile by name (``policy_mapping_fn``:
``conservative_0`` and ``conservative_1`` -> ``"conservative"``, ``balanced_0`` -> ``"balanced"``, ...), so the
three profiles — which differ in risk limits and reward weights — learn three different policies while
agents of the same profile share theirs. The env is the task's PettingZoo parallel env wrapped in RLlib's
``ParallelPettingZooEnv``; actions are continuous (``Box``), so all three algorithms apply:

* ``--algo ppo`` (default) and ``--algo appo`` (asynchronous PPO: env runners sample while the learner
  trains — the one to scale out);
* ``--algo sac``: off-policy, Box actions, with RLlib's ``MultiAgentEpisodeReplayBuffer``.

RLlib 2.60 has no A2C (it was removed with the old API stack): use ``examples/sb3_train.py --algo a2c``.

    python examples/rllib_train.py --algo ppo --task Impact-v0 --iterations 50

**On a Ray cluster** the same script scales out: start Ray on the nodes (``ray start --head`` on one,
``ray start --address=<head-ip>:6379`` on the others, with ``wealtharena-env`` installed on every node),
then run the script on the head node with ``--address auto`` and more env runners (each is one process
sampling its own arenas; ``--envs-per-env-runner`` arenas each)::

    python examples/rllib_train.py --address auto --num-env-runners 32 --envs-per-env-runner 4 --algo appo

or from outside the cluster through Ray Client (``--address ray://<head-ip>:10001``). Without ``--address``
the script starts a local Ray instance with ``--num-cpus`` CPUs. The driver waits ``--sample-timeout-s``
(default 300 s, RLlib's is 60) for each remote env runner's samples: a fresh runner compiles the env's Numba
kernels in its first sample. Every Ray worker gets this process's ``NUMBA_NUM_THREADS`` / ``OMP_WAIT_POLICY``.
``--env-kwargs '{"reward_mode": "log_return"}'`` changes the training env (as in every example).

Outputs in ``<out>/<run-name>/``: ``checkpoint/`` (``Algorithm.from_checkpoint``; each policy's RLModule under
``checkpoint/learner_group/learner/rl_module/<profile>``), ``results.json`` (leaderboard results of the policy
of the task's first focal seat; the other focal profiles' policies in ``results_<profile>.json``),
``config.json``, ``summary.json`` and TensorBoard logs (``--track mlflow`` / ``--track wandb`` add
MLflow / W&B).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# Numba's OpenMP workers spin beside the learner (steps 4-5x slower on shared cores); values you set win.
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # examples/common.py: tasks, tracking, evaluation

ALGOS = ("ppo", "appo", "sac")
ENV_NAME = "wealtharena_arena"

#: Default ``sample_timeout_s`` of the env runners. RLlib's 60 s lost whole samples on the cluster path ("No
#: samples returned from remote workers"): the first ``sample()`` of every new env-runner process compiles the
#: env's Numba kernels when the node's cache is cold (~35 s for one process on 2 busy cores, longer with many
#: runners compiling at once on a node), and a busy node steps slower still.
SAMPLE_TIMEOUT_S = 300.0

#: Environment variables every Ray worker gets (env runners, learners, possibly on other nodes): one Numba
#: thread and passive OpenMP waiting, as in this process (see the top of the file).
WORKER_ENV_VARS = ("NUMBA_NUM_THREADS", "OMP_WAIT_POLICY")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algo", choices=ALGOS + ("a2c",), default="ppo", help="RLlib algorithm (default ppo)")
    parser.add_argument("--iterations", type=int, default=20, help="training iterations (algo.train() calls)")
    parser.add_argument("--timesteps", type=int, default=None,
                        help="stop after this many sampled env steps (default: only --iterations)")
    parser.add_argument("--train-batch-size", type=int, default=2000, help="env steps per learner update (PPO/APPO)")
    parser.add_argument("--minibatch-size", type=int, default=256, help="PPO/APPO minibatch, SAC batch size")
    parser.add_argument("--num-epochs", type=int, default=5, help="PPO epochs per batch")
    parser.add_argument("--lr", type=float, default=3e-4, help="learning rate (SAC: actor, critic and alpha)")
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="MLP hidden sizes")
    parser.add_argument("--reward-scale", type=float, default=100.0,
                        help="training rewards are multiplied by this (daily log returns are ~1e-3)")
    parser.add_argument("--learning-starts", type=int, default=1000, help="SAC: env steps before learning")
    parser.add_argument("--rollout-fragment-length", type=int, default=None,
                        help="env steps per sampling call (default: 'auto' for PPO, 50 for APPO, 1 for SAC, "
                             "i.e. one SAC update per sampled step)")
    parser.add_argument("--min-steps-per-iteration", type=int, default=None,
                        help="env steps an iteration samples at least (default: the algorithm's; SAC 100)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join: 'auto' (on a cluster node) or 'ray://<head>:10001' "
                             "(default: start a local Ray)")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    parser.add_argument("--num-env-runners", type=int, default=0,
                        help="sampling processes (0: sample in the driver; APPO uses at least 1)")
    parser.add_argument("--envs-per-env-runner", type=int, default=1, help="arenas per env runner")
    parser.add_argument("--num-learners", type=int, default=0, help="learner processes (0: learn in the driver)")
    parser.add_argument("--sample-timeout-s", type=float, default=SAMPLE_TIMEOUT_S,
                        help="seconds the driver waits for a remote env runner's sample() before discarding it "
                             f"(default {SAMPLE_TIMEOUT_S:g}; RLlib's 60 is too short for the first sample of a "
                             "fresh runner, which compiles the Numba kernels)")
    common.add_common_args(parser)
    parser.set_defaults(task="Impact-v0")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------- env
def env_creator(env_config: dict[str, Any]):
    """RLlib's env factory: the PettingZoo parallel env as a ``MultiAgentEnv`` (with training reward scale).

    Runs in every env runner process (possibly on other nodes), so it imports what it needs itself.
    """
    import pettingzoo
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    import wealtharena_env  # noqa: F401  (registers the IDs in this process)

    config = dict(env_config)
    env_id = config.pop("env_id")
    scale = float(config.pop("reward_scale", 1.0))

    class ScaledRewards(ParallelPettingZooEnv):
        def step(self, action_dict):
            obs, rewards, terminateds, truncateds, infos = super().step(action_dict)
            return obs, {a: r * scale for a, r in rewards.items()}, terminateds, truncateds, infos

    return ScaledRewards(pettingzoo.make("parallel", env_id, **config))


def profile_of(agent_id: str) -> str:
    """``"conservative_1"`` -> ``"conservative"``: the policy (RLModule) of an agent is its risk profile."""
    return agent_id.rsplit("_", 1)[0]


def policy_mapping_fn(agent_id, episode=None, **kwargs) -> str:
    return profile_of(agent_id)


# ---------------------------------------------------------------------------------------------- config
def build_config(args: argparse.Namespace, task, profiles: list[str]):
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    env_config = {"env_id": task.env_id, "reward_scale": args.reward_scale,
                  **common.train_kwargs(task, args.episode_length, args.env_kwargs)}
    if args.algo == "sac":
        from ray.rllib.algorithms.sac import SACConfig

        config = SACConfig().training(
            actor_lr=args.lr, critic_lr=args.lr, alpha_lr=args.lr, gamma=args.gamma,
            train_batch_size_per_learner=args.minibatch_size,
            num_steps_sampled_before_learning_starts=args.learning_starts,
            # multi-agent SAC on the new API stack needs the multi-agent episode buffer
            replay_buffer_config={"type": "MultiAgentEpisodeReplayBuffer", "capacity": 100_000},
        )
        model_config = DefaultModelConfig(fcnet_hiddens=list(args.hidden), head_fcnet_hiddens=[])
    else:
        if args.algo == "appo":
            from ray.rllib.algorithms.appo import APPOConfig as AlgoConfig
        else:
            from ray.rllib.algorithms.ppo import PPOConfig as AlgoConfig
        config = AlgoConfig().training(
            lr=args.lr, gamma=args.gamma, train_batch_size_per_learner=args.train_batch_size,
            minibatch_size=args.minibatch_size, num_epochs=args.num_epochs,
        )
        model_config = DefaultModelConfig(fcnet_hiddens=list(args.hidden), fcnet_activation="tanh",
                                          vf_share_layers=False)
    runners = args.num_env_runners
    fragment: int | str = args.rollout_fragment_length or {"ppo": "auto", "appo": 50, "sac": 1}[args.algo]
    if args.algo == "appo":
        runners = max(runners, 1)  # APPO samples asynchronously in remote env runners
        # APPO's minibatches are whole rollout fragments
        config.training(minibatch_size=max(int(fragment), args.minibatch_size // int(fragment) * int(fragment)))
    if args.min_steps_per_iteration is not None:
        config.reporting(min_sample_timesteps_per_iteration=args.min_steps_per_iteration)
    return (
        config
        .environment(ENV_NAME, env_config=env_config)
        .env_runners(num_env_runners=runners, num_envs_per_env_runner=args.envs_per_env_runner,
                     rollout_fragment_length=fragment, sample_timeout_s=args.sample_timeout_s)
        .learners(num_learners=args.num_learners)
        .multi_agent(policies=set(profiles), policy_mapping_fn=policy_mapping_fn)
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={p: RLModuleSpec() for p in profiles}),
                   model_config=model_config)
        .debugging(seed=args.seed)
    )


# ---------------------------------------------------------------------------------------------- evaluation
def module_policy(module_dir: Path):
    """Load one profile's RLModule from a checkpoint: a deterministic policy on observation batches."""
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    module = RLModule.from_checkpoint(str(Path(module_dir).expanduser().resolve()))  # pyarrow: absolute paths only
    dist_cls = module.get_inference_action_dist_cls()

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module.forward_inference({"obs": torch.as_tensor(np.asarray(obs, dtype=np.float32))})
        if "actions" in out:  # modules that act directly
            action = out["actions"]
        else:
            action = dist_cls.from_logits(out["action_dist_inputs"]).to_deterministic().sample()
        return np.clip(action.cpu().numpy(), -1.0, 1.0)

    return policy


def _scalars(result: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in result.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_scalars(value, f"{name}/"))
        elif isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.algo == "a2c":
        raise SystemExit("RLlib 2.60 has no A2C (it left with the old API stack). Use Stable-Baselines3's: "
                         "python examples/sb3_train.py --algo a2c --task " + args.task)
    if args.iterations < 1:
        raise SystemExit("--iterations must be >= 1")
    task = common.resolve_task(args.task)
    if not common.is_multi_agent(task):
        raise SystemExit(f"{task.key} is a single-agent task; this example trains the multi-agent arena "
                         "(--task Impact-v0). For single-agent tasks see sb3_train.py and cleanrl_ppo.py.")
    import pettingzoo
    import ray
    from ray.tune.registry import register_env

    probe = pettingzoo.make("parallel", task.env_id, **common.train_kwargs(task, args.episode_length, args.env_kwargs))
    agents = list(probe.possible_agents)
    profiles = sorted({profile_of(a) for a in agents})
    focal_profiles = list(dict.fromkeys(profile_of(a) for a in task.focal_agents))

    run_dir = common.run_dir_for(args, f"rllib-{args.algo}", task)
    env_record = common.env_kwargs_record(task, args.episode_length, args.env_kwargs)
    config_record = {**vars(args), "agents": agents, "policies": {a: profile_of(a) for a in agents}, **env_record}
    common.write_json(run_dir / "config.json", config_record)
    tracker = common.Tracker(args.track, run_dir, run_dir.name, config_record, mlflow_uri=args.mlflow_uri)

    runtime_env = {"env_vars": {k: os.environ[k] for k in WORKER_ENV_VARS if k in os.environ}}
    if args.address:
        ray.init(address=args.address, runtime_env=runtime_env)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, configure_logging=True, logging_level="ERROR",
                 runtime_env=runtime_env)
    print(f"Ray resources: {ray.cluster_resources()}")
    register_env(ENV_NAME, env_creator)
    algo = build_config(args, task, profiles).build_algo()

    start = time.perf_counter()
    sampled = 0
    for iteration in range(1, args.iterations + 1):
        result = algo.train()
        sampled = int(result.get("num_env_steps_sampled_lifetime", sampled))
        metrics = _scalars({k: result[k] for k in ("env_runners", "learners") if k in result})
        tracker.log(metrics, sampled)
        runner = result.get("env_runners", {})
        per_module = runner.get("module_episode_returns_mean", {})
        print(f"iteration {iteration}: env steps {sampled}, episode return mean "
              f"{runner.get('episode_return_mean', float('nan')):.4f} (scaled x{args.reward_scale:g}), per policy "
              + json.dumps({k: round(float(v), 4) for k, v in per_module.items()}))
        if args.timesteps is not None and sampled >= args.timesteps:
            break
    train_seconds = time.perf_counter() - start
    checkpoint = Path(algo.save_to_path(str((run_dir / "checkpoint").resolve())))
    algo.stop()
    print(f"trained {args.algo} for {iteration} iterations ({sampled} env steps) in {train_seconds:.1f}s "
          f"-> {checkpoint}")

    # The leaderboard protocol gives one policy every focal seat: evaluate each focal profile's policy.
    summaries = {}
    for i, profile in enumerate(focal_profiles):
        module_dir = checkpoint / "learner_group" / "learner" / "rl_module" / profile
        output = run_dir / ("results.json" if i == 0 else f"results_{profile}.json")
        doc = common.evaluate_policy(task, module_policy(module_dir), output, n_seeds=args.eval_seeds,
                                     episode_length=args.eval_episode_length, entry=f"rllib-{args.algo}-{profile}")
        summaries[profile] = common.summarize(doc)
        tracker.log({f"eval/{profile}/mean_return": summaries[profile]["mean_return"],
                     f"eval/{profile}/mean_total_return": summaries[profile]["mean_total_return"]}, sampled)
        tracker.log_artifact(output)
    tracker.close()
    common.write_json(run_dir / "summary.json", {"train_seconds": train_seconds, "env_steps": sampled,
                                                 "checkpoint": str(checkpoint), "policies": summaries, **env_record})
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
