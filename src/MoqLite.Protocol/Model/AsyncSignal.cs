using System.Threading.Tasks.Sources;
using MoqLite.Coding;

namespace MoqLite.Model;

/// <summary>
/// A reusable auto-reset wake-up for one waiter. Producers call <see cref="Set"/> per frame or group;
/// unlike a TaskCompletionSource per wait it allocates nothing, which keeps the relay path allocation-free.
/// </summary>
internal sealed class AsyncSignal : IValueTaskSource<bool>
{
    private readonly object _gate = new();
    private WaiterCore<bool> _core;
    private bool _pending;
    private readonly bool _inline;

    /// <param name="inline">
    /// Resume the waiter on the thread that calls <see cref="Set"/>, which must then hold no lock; by default the
    /// waiter resumes on the thread pool.
    /// </param>
    public AsyncSignal(bool inline = false)
    {
        _inline = inline;
        _core.RunContinuationsAsynchronously = !inline;
    }

    /// <summary>Waits for the next <see cref="Set"/>; returns at once if one is pending.</summary>
    public ValueTask<bool> WaitAsync(CancellationToken cancellationToken)
    {
        short version;
        lock (_gate)
        {
            if (_pending)
            {
                _pending = false;
                return new ValueTask<bool>(true);
            }
            if (_core.IsWaiting)
            {
                throw new InvalidOperationException("Only one waiter at a time.");
            }
            cancellationToken.ThrowIfCancellationRequested();
            version = _core.BeginLocked();
            // A SetInline may have overridden the mode for the previous wait only.
            _core.RunContinuationsAsynchronously = !_inline;
        }
        _core.Register(static (state, token) => ((AsyncSignal)state!).Cancel(token), this, cancellationToken);
        return new ValueTask<bool>(this, version);
    }

    /// <summary>Wakes the waiter, or leaves a pending signal for the next wait.</summary>
    public void Set() => Signal(_inline);

    /// <summary>Like <see cref="Set"/>, but the waiter resumes on this thread, which must hold no lock.</summary>
    public void SetInline() => Signal(inline: true);

    private void Signal(bool inline)
    {
        lock (_gate)
        {
            if (!_core.IsWaiting)
            {
                _pending = true;
                return;
            }
            _core.IsWaiting = false;
            _core.RunContinuationsAsynchronously = !inline;
        }
        _core.SetResult(true);
    }

    private void Cancel(CancellationToken token) => _core.Cancel(_gate, token);

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
