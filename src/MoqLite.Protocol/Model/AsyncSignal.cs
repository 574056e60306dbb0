using System.Threading.Tasks.Sources;

namespace MoqLite.Model;

/// <summary>
/// A reusable auto-reset wake-up for one waiter. Producers call <see cref="Set"/> per frame or group;
/// unlike a TaskCompletionSource per wait it allocates nothing, which keeps the relay path allocation-free.
/// </summary>
internal sealed class AsyncSignal : IValueTaskSource<bool>
{
    private readonly object _gate = new();
    private ManualResetValueTaskSourceCore<bool> _core;
    private bool _pending;
    private bool _waiting;
    private CancellationTokenRegistration _registration;

    /// <param name="inline">
    /// Resume the waiter on the thread that calls <see cref="Set"/>, which must then hold no lock; by default the
    /// waiter resumes on the thread pool.
    /// </param>
    public AsyncSignal(bool inline = false) => _core.RunContinuationsAsynchronously = !inline;

    /// <summary>Waits for the next <see cref="Set"/>; returns at once if one is pending.</summary>
    public ValueTask<bool> WaitAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_pending)
            {
                _pending = false;
                return new ValueTask<bool>(true);
            }
            if (_waiting)
            {
                throw new InvalidOperationException("Only one waiter at a time.");
            }
            cancellationToken.ThrowIfCancellationRequested();
            _core.Reset();
            _waiting = true;
        }
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(static (state, token) => ((AsyncSignal)state!).Cancel(token), this);
        }
        return new ValueTask<bool>(this, _core.Version);
    }

    /// <summary>Wakes the waiter, or leaves a pending signal for the next wait.</summary>
    public void Set()
    {
        lock (_gate)
        {
            if (!_waiting)
            {
                _pending = true;
                return;
            }
            _waiting = false;
        }
        _core.SetResult(true);
    }

    private void Cancel(CancellationToken token)
    {
        lock (_gate)
        {
            if (!_waiting)
            {
                return;
            }
            _waiting = false;
        }
        _core.SetException(new OperationCanceledException(token));
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        _registration.Dispose();
        _registration = default;
        return _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
