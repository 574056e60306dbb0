using System.Threading.Tasks.Sources;

namespace MoqLite.Coding;

/// <summary>
/// The reusable core of our single-waiter <see cref="IValueTaskSource{TResult}"/>s (signals, a stream's reads and
/// flushes): <see cref="ManualResetValueTaskSourceCore{TResult}"/> plus the current wait's cancellation registration,
/// released when the result is taken, and whether a wait is on (guarded by the owner's lock). A mutable struct: keep
/// it in a field and never copy it.
/// </summary>
internal struct WaiterCore<T>
{
    private ManualResetValueTaskSourceCore<T> _core;
    private CancellationTokenRegistration _registration;

    /// <summary>A wait is on and not yet completed; read and written under the owner's lock.</summary>
    public bool IsWaiting { readonly get; set; }

    /// <summary>Resume the waiter on the thread pool rather than on the thread that completes the wait.</summary>
    public bool RunContinuationsAsynchronously
    {
        readonly get => _core.RunContinuationsAsynchronously;
        set => _core.RunContinuationsAsynchronously = value;
    }

    /// <summary>Starts a wait, under the owner's lock; returns the token for the <see cref="ValueTask{TResult}"/> handed out.</summary>
    public short BeginLocked()
    {
        _core.Reset();
        IsWaiting = true;
        return _core.Version;
    }

    /// <summary>Has <paramref name="cancel"/> called on <paramref name="owner"/> if the token fires during this wait.</summary>
    public void Register(Action<object?, CancellationToken> cancel, object owner, CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(cancel, owner);
        }
    }

    /// <summary>Fails a wait still on with <see cref="OperationCanceledException"/>; <paramref name="gate"/> is the owner's lock.</summary>
    public void Cancel(object gate, CancellationToken token)
    {
        lock (gate)
        {
            if (!IsWaiting)
            {
                return;
            }
            IsWaiting = false;
        }
        _core.SetException(new OperationCanceledException(token));
    }

    public void SetResult(T result) => _core.SetResult(result);

    public void SetException(Exception error) => _core.SetException(error);

    public T GetResult(short token)
    {
        _registration.Dispose();
        _registration = default;
        return _core.GetResult(token);
    }

    public readonly ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
