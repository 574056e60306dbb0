using System.Security.Claims;

namespace MoqLite.AspNetCore.Authorization;

/// <summary>
/// Claim types that grant MOQ rights to an authenticated user (from any authentication scheme): each claim's value
/// is an origin path prefix. A user with neither claim gets the endpoint's default rights.
/// </summary>
public static class MoqClaimTypes
{
    /// <summary>May publish at or below the claim's path.</summary>
    public const string Publish = "moq:put";

    /// <summary>May discover and subscribe at or below the claim's path.</summary>
    public const string Subscribe = "moq:get";

    internal static MoqRights? RightsFrom(ClaimsPrincipal? user)
    {
        if (user?.Identity?.IsAuthenticated != true)
        {
            return null;
        }
        var publish = user.FindAll(Publish).Select(c => MoqPath.Normalize(c.Value)).ToList();
        var subscribe = user.FindAll(Subscribe).Select(c => MoqPath.Normalize(c.Value)).ToList();
        return publish.Count == 0 && subscribe.Count == 0 ? null : new MoqRights(publish, subscribe);
    }
}
