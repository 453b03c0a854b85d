// SPDX-License-Identifier: MIT
pragma solidity 0.6.12;

interface IERC20Like {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function transfer(address to, uint256 amount) external returns (bool);
}

/// A stand-in for a Compound V3 (Comet) market: Comet's bytecode is not published on npm, so this
/// moves real ERC-20 tokens and emits Comet's events with its exact signatures (copied from its
/// published ABI, parameter names included), in the order Comet emits them, and answers Comet's
/// view functions for the market's state. It has none of Comet's accounting: the caller says how
/// much of a supply repays debt and how much of a withdrawal borrows, no interest accrues (indexes
/// stay 1), and its rate curve is a plain line (Comet's is kinked and governed).
contract CometEvents {
    event Supply(address indexed from, address indexed dst, uint amount);
    event Transfer(address indexed from, address indexed to, uint amount);
    event Withdraw(address indexed src, address indexed to, uint amount);
    event SupplyCollateral(address indexed from, address indexed dst, address indexed asset, uint amount);
    event WithdrawCollateral(address indexed src, address indexed to, address indexed asset, uint amount);
    event AbsorbDebt(address indexed absorber, address indexed borrower, uint basePaidOut, uint usdValue);
    event AbsorbCollateral(address indexed absorber, address indexed borrower, address indexed asset, uint collateralAbsorbed, uint usdValue);

    address public baseToken;
    uint public totalSupply;
    uint public totalBorrow;
    uint64 constant INDEX_ONE = 1e15;
    uint constant FACTOR = 1e18;

    constructor(address base) public {
        baseToken = base;
    }

    /// Comet.supplyBase: Supply, then Transfer(0, dst) of the part that became a supply balance.
    function supply(address dst, uint amount, uint supplied) external {
        require(IERC20Like(baseToken).transferFrom(msg.sender, address(this), amount), "transferFrom");
        totalBorrow -= amount - supplied;
        totalSupply += supplied;
        emit Supply(msg.sender, dst, amount);
        if (supplied > 0) emit Transfer(address(0), dst, supplied);
    }

    /// Comet.withdrawBase: Withdraw, then Transfer(src, 0) of the part taken from a supply balance.
    function withdraw(address to, uint amount, uint withdrawn) external {
        require(IERC20Like(baseToken).transfer(to, amount), "transfer");
        totalSupply -= withdrawn;
        totalBorrow += amount - withdrawn;
        emit Withdraw(msg.sender, to, amount);
        if (withdrawn > 0) emit Transfer(msg.sender, address(0), withdrawn);
    }

    function supplyCollateral(address asset, uint amount) external {
        require(IERC20Like(asset).transferFrom(msg.sender, address(this), amount), "transferFrom");
        emit SupplyCollateral(msg.sender, msg.sender, asset, amount);
    }

    function withdrawCollateral(address to, address asset, uint amount) external {
        require(IERC20Like(asset).transfer(to, amount), "transfer");
        emit WithdrawCollateral(msg.sender, to, asset, amount);
    }

    /// Comet.absorbInternal: AbsorbCollateral per collateral asset, then AbsorbDebt.
    function absorb(address borrower, address asset, uint collateral, uint debt, uint usdValue) external {
        emit AbsorbCollateral(msg.sender, borrower, asset, collateral, usdValue);
        totalBorrow -= debt;
        emit AbsorbDebt(msg.sender, borrower, debt, usdValue);
    }

    function getUtilization() public view returns (uint) {
        return totalSupply == 0 ? 0 : totalBorrow * FACTOR / totalSupply;
    }

    /// Per second, scaled by 1e18 (Comet's units): about 2 % a year plus 20 % times utilisation.
    function getBorrowRate(uint utilization) public pure returns (uint64) {
        return uint64(634195839 + utilization * 6341958396 / FACTOR);
    }

    function getSupplyRate(uint utilization) public pure returns (uint64) {
        return uint64(uint(getBorrowRate(utilization)) * utilization / FACTOR);
    }

    /// Comet's TotalsBasic struct, returned flat (the same ABI encoding as the static tuple).
    function totalsBasic() external view returns (uint64, uint64, uint64, uint64, uint104, uint104, uint40, uint8) {
        return (INDEX_ONE, INDEX_ONE, 0, 0, uint104(totalSupply), uint104(totalBorrow), uint40(block.timestamp), 0);
    }
}
